"""Which network addresses modelref may send requests to (pure rules; resolution is I/O).

Anything that fetches or posts to a URL someone wrote (review checks, webhooks) refuses every
address that is not globally routable — loopback, private, link-local (which holds the cloud
metadata service, 169.254.169.254), carrier-grade NAT, multicast, reserved, unspecified — after
DNS resolution, unless the operator allow-listed the host (``MODELREF_CHECK_ALLOW_HOSTS``:
comma-separated host names, IP addresses or CIDR networks).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AllowList:
    """Hosts and networks the operator trusts even though they are not public."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, raw: str) -> AllowList:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                hosts.add(part.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, host: str, address: IPAddress | None = None) -> bool:
        if host.lower().rstrip(".").strip("[]") in self.hosts:
            return True
        return address is not None and any(address in net for net in self.networks)


def parse_ip(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` must not be contacted (None: it is a public address)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local (cloud metadata)"),
        (address.is_private, "private"),
        (address.is_multicast, "multicast"),
        (address.is_reserved, "reserved"),
    )
    for hit, reason in checks:
        if hit:
            return f"{address} is a {reason} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def check(host: str, addresses: list[IPAddress], allow: AllowList) -> str | None:
    """Why ``host`` (resolved to ``addresses``) must not be contacted, or None.

    Every resolved address must pass: a name that resolves to one public and one private
    address would otherwise be a way in.
    """
    if not addresses:
        return f"{host} did not resolve to any address"
    for address in addresses:
        if allow.allows(host, address):
            continue
        reason = refusal(address)
        if reason is not None:
            return f"{host}: {reason} (allow it with MODELREF_CHECK_ALLOW_HOSTS)"
    return None
