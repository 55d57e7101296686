"""The address rules for URLs someone wrote: public addresses only, unless allow-listed."""

from __future__ import annotations

import pytest

from modelref.domain.addresses import AllowList, IPAddress, check, parse_ip, refusal
from modelref.service.safe_http import AddressRefused, SafeClient


def ip(value: str) -> IPAddress:
    parsed = parse_ip(value)
    assert parsed is not None
    return parsed


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.8", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local (cloud metadata)"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("::ffff:169.254.169.254", "link-local"),
    ],
)
def test_inward_addresses_are_refused(address: str, reason: str) -> None:
    found = refusal(ip(address))
    assert found is not None and reason in found


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "1.1.1.1"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ip(address)) is None


def test_the_allow_list_takes_names_addresses_and_networks() -> None:
    allow = AllowList.parse(" hooks.internal , 127.0.0.1, 10.20.0.0/16,,")
    assert allow.allows("HOOKS.internal.")
    assert allow.allows("127.0.0.1", ip("127.0.0.1"))
    assert allow.allows("anything", ip("10.20.3.4"))
    assert not allow.allows("anything", ip("10.21.0.1"))
    assert check("hooks.internal", [ip("10.9.9.9")], allow) is None
    assert check("x.example", [ip("10.20.1.1")], allow) is None


def test_every_resolved_address_must_pass() -> None:
    """A name resolving to a public and a private address is refused."""
    reason = check("mixed.example", [ip("93.184.216.34"), ip("10.0.0.1")], AllowList())
    assert reason is not None and "10.0.0.1 is a private" in reason
    assert "MODELREF_CHECK_ALLOW_HOSTS" in reason
    assert check("none.example", [], AllowList()) == "none.example did not resolve to any address"


def test_the_client_connects_to_the_address_it_checked() -> None:
    answers = {"rebind.example": [ip("192.168.0.7")], "ok.example": [ip("93.184.216.34")]}
    client = SafeClient(AllowList(), resolver=lambda host, _port: answers[host])
    with pytest.raises(AddressRefused, match=r"192\.168\.0\.7 is a private address"):
        client.target("https://rebind.example/hook")
    url, host, address = client.target("https://ok.example:8443/hook?x=1")
    assert (str(url), host, str(address)) == (
        "https://93.184.216.34:8443/hook?x=1",
        "ok.example",
        "93.184.216.34",
    )
    with pytest.raises(AddressRefused, match="only http"):
        client.target("file:///etc/passwd")
