"""The webhook client under the shared address rule (domain/address_policy.py, whose own
cases are in test_address_policy.py): every resolved address must pass, and the connection
goes to the address that was checked."""

from __future__ import annotations

import pytest

from modelref.domain.address_policy import Address, AddressPolicy, parse_ip
from modelref.service.safe_http import AddressRefused, SafeClient


def ip(value: str) -> Address:
    parsed = parse_ip(value)
    assert parsed is not None
    return parsed


def test_every_resolved_address_must_pass() -> None:
    """A name resolving to a public and a private address is refused."""
    reason = AddressPolicy().check_all("mixed.example", [ip("93.184.216.34"), ip("10.0.0.1")])
    assert reason is not None and "10.0.0.1" in reason and "private" in reason
    assert "MODELREF_CHECK_ALLOW_HOSTS" in reason
    assert AddressPolicy().check_all("none.example", []) == (
        "none.example did not resolve to any address"
    )


def test_the_allow_list_takes_names_and_networks() -> None:
    allow = AddressPolicy.parse(" hooks.internal , 127.0.0.1, 10.20.0.0/16,,")
    assert allow.check_all("hooks.internal", [ip("10.9.9.9")]) is None
    assert allow.check_all("x.example", [ip("10.20.1.1")]) is None
    assert allow.check_all("x.example", [ip("10.21.0.1")]) is not None


def test_the_client_connects_to_the_address_it_checked() -> None:
    answers = {"rebind.example": [ip("192.168.0.7")], "ok.example": [ip("93.184.216.34")]}
    client = SafeClient(AddressPolicy(), resolver=lambda host, _port: answers[host])
    with pytest.raises(AddressRefused, match=r"192\.168\.0\.7, a private address"):
        client.target("https://rebind.example/hook")
    url, host, address = client.target("https://ok.example:8443/hook?x=1")
    assert (str(url), host, str(address)) == (
        "https://93.184.216.34:8443/hook?x=1",
        "ok.example",
        "93.184.216.34",
    )
    with pytest.raises(AddressRefused, match="only http"):
        client.target("file:///etc/passwd")
