"""The checker's address policy: what is refused by default, and what an allow-list lets in."""

from __future__ import annotations

import ipaddress

import pytest

from modelref.domain.address_policy import AddressPolicy, refusal
from modelref.domain.errors import ValidationFailed

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "::1": "loopback",
    "10.0.0.5": "private",
    "172.16.4.4": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "cloud metadata",
    "169.254.10.10": "link-local",
    "fd00:ec2::254": "cloud metadata",
    "fe80::1": "link-local",
    "0.0.0.0": "this network",
    "0.1.2.3": "this network",
    "100.64.0.1": "carrier-grade NAT",
    "fc00::1": "unique-local",
    "fd12:3456::1": "unique-local",
    "224.0.0.1": "multicast",
    "ff02::1": "multicast",
    "::ffff:10.0.0.1": "IPv6 form of 10.0.0.1",
    "::ffff:127.0.0.1": "IPv6 form of 127.0.0.1",
    "2002:c0a8:0101::1": "IPv6 form of 192.168.1.1",  # 6to4
    "64:ff9b::a9fe:a9fe": "IPv6 form of 169.254.169.254",  # NAT64
    "192.0.2.1": "not a public address",  # documentation range
    "240.0.0.1": "not a public address",  # reserved
}
PUBLIC = ["1.1.1.1", "140.82.112.3", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", sorted(REFUSED))
def test_not_public_addresses_are_refused_with_a_reason(address: str) -> None:
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None and REFUSED[address] in reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None
    assert AddressPolicy().check("example.org", ipaddress.ip_address(address)) is None


def test_the_allow_list_takes_addresses_cidrs_and_host_names() -> None:
    policy = AddressPolicy.parse(" 127.0.0.1 , 10.0.0.0/8, Mirror.Internal., [::1]")
    loop = ipaddress.ip_address("127.0.0.1")
    assert policy.check("127.0.0.1", loop) is None
    assert policy.check("localhost", loop) is None  # the address is allowed, whatever name
    assert policy.check("x", ipaddress.ip_address("10.9.9.9")) is None
    assert policy.check("x", ipaddress.ip_address("::1")) is None
    assert policy.check("x", ipaddress.ip_address("::ffff:10.1.1.1")) is None
    assert policy.check("mirror.internal", ipaddress.ip_address("192.168.5.5")) is None
    refused = policy.check("other.internal", ipaddress.ip_address("192.168.5.5"))
    assert refused is not None and "other.internal resolves to 192.168.5.5" in refused
    assert "MODELREF_CHECK_ALLOW_HOSTS" in refused
    assert policy.check("127.0.0.2", ipaddress.ip_address("127.0.0.2")) is not None


@pytest.mark.parametrize("entry", ["http://x", "user@host", "a b", "-bad", "/"])
def test_a_bad_allow_list_entry_names_the_setting(entry: str) -> None:
    with pytest.raises(ValidationFailed, match="MODELREF_CHECK_ALLOW_HOSTS"):
        AddressPolicy.parse(entry)
