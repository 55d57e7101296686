"""Which network addresses modelref may connect to (pure rules, no I/O): the one rule for
everything that fetches or posts to a URL someone wrote (review checks, webhooks).

Those URLs come from contributors, so by default every address is refused that
is not public unicast: private and unique-local ranges, loopback, link-local (which holds the
cloud metadata endpoints 169.254.169.254 and fd00:ec2::254), ``0.0.0.0/8``, carrier-grade NAT,
multicast, reserved and documentation ranges, and IPv6 forms that embed such an IPv4 address
(IPv4-mapped, 6to4, NAT64, Teredo). The decision is made on the *resolved* address of every
hop; an allow-list (``MODELREF_CHECK_ALLOW_HOSTS``) names hosts or CIDRs that may be reached
anyway (tests allow ``127.0.0.1``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from modelref.domain.errors import ValidationFailed

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Named so that a refusal says which one it is; ``is_global`` covers the rest.
_NAMED: tuple[tuple[Network, str], ...] = (
    (ipaddress.ip_network("169.254.169.254/32"), "a cloud metadata address"),
    (ipaddress.ip_network("fd00:ec2::254/128"), "a cloud metadata address"),
    (ipaddress.ip_network("0.0.0.0/8"), "a 'this network' address (0.0.0.0/8)"),
    (ipaddress.ip_network("127.0.0.0/8"), "a loopback address"),
    (ipaddress.ip_network("::1/128"), "a loopback address"),
    (ipaddress.ip_network("169.254.0.0/16"), "a link-local address"),
    (ipaddress.ip_network("fe80::/10"), "a link-local address"),
    (ipaddress.ip_network("10.0.0.0/8"), "a private address"),
    (ipaddress.ip_network("172.16.0.0/12"), "a private address"),
    (ipaddress.ip_network("192.168.0.0/16"), "a private address"),
    (ipaddress.ip_network("100.64.0.0/10"), "a carrier-grade NAT address"),
    (ipaddress.ip_network("fc00::/7"), "a unique-local address"),
    (ipaddress.ip_network("224.0.0.0/4"), "a multicast address"),
    (ipaddress.ip_network("ff00::/8"), "a multicast address"),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the embedding forms."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def parse_ip(value: str) -> Address | None:
    """``value`` as an address (brackets and a zone index allowed), or None for a name."""
    try:
        return ipaddress.ip_address(value.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def refusal(ip: Address) -> str | None:
    """Why the checker must not connect to ``ip`` by default, or ``None`` when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            reason = refusal(inner)
            return f"an IPv6 form of {inner}, {reason}" if reason else None
    for network, reason in _NAMED:
        if ip.version == network.version and ip in network:
            return reason
    if not ip.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """The default refusals minus an allow-list of host names and networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, raw: str, setting: str = "MODELREF_CHECK_ALLOW_HOSTS") -> AddressPolicy:
        """``"127.0.0.1, 10.0.0.0/8, mirror.internal"``; a bad entry names the setting."""
        hosts: set[str] = set()
        networks: list[Network] = []
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = part.lower().rstrip(".")
            if not name or any(c in name for c in "/:@ ") or name.startswith("-"):
                raise ValidationFailed(f"{setting}: {part!r} is neither a host name nor a CIDR")
            hosts.add(name)
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def check_all(self, host: str, addresses: list[Address]) -> str | None:
        """Why ``host`` may not be contacted: every address it resolved to must pass (a name
        resolving to one public and one private address would otherwise be a way in)."""
        if not addresses:
            return f"{host} did not resolve to any address"
        for ip in addresses:
            reason = self.check(host, ip)
            if reason is not None:
                return reason
        return None

    def check(self, host: str, ip: Address) -> str | None:
        """Why connecting to ``ip`` (which ``host`` resolved to) is refused, or ``None``."""
        if self.allows_host(host):
            return None
        if any(ip.version == n.version and ip in n for n in self.networks):
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            inner = ip.ipv4_mapped
            if any(n.version == 4 and inner in n for n in self.networks):
                return None
        reason = refusal(ip)
        if reason is None:
            return None
        where = f"{ip} is" if host.strip("[]") == str(ip) else f"{host} resolves to {ip},"
        return f"{where} {reason}: refused (MODELREF_CHECK_ALLOW_HOSTS can allow it)"
