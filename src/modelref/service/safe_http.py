"""HTTP requests to URLs someone wrote: public addresses only, bounded in time and bytes.

The host is resolved once, every address it resolves to is checked
(:mod:`modelref.domain.address_policy`, the rule the review checks use too), and the
connection goes to the checked address (the ``Host`` header and TLS server name stay the
URL's), so a DNS answer that changes between the
check and the connection cannot redirect the request inward. Redirects are never followed,
proxies from the environment are ignored, the whole exchange has a deadline and at most
``max_bytes`` of the answer are read.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from modelref.domain.address_policy import Address, AddressPolicy, parse_ip

#: ``getaddrinfo`` (tests of the address rules can pass a resolver of their own).
Resolver = Callable[[str, int], list[Address]]


class AddressRefused(Exception):
    """The URL's host is (or resolves to) an address modelref must not contact."""


class RequestFailed(Exception):
    """The request could not be completed (connection, timeout, too large, redirect)."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


def system_resolver(host: str, port: int) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise RequestFailed(f"{host}: cannot resolve ({exc})") from exc
    found: dict[str, Address] = {}
    for info in infos:
        ip = parse_ip(str(info[4][0]))
        if ip is not None:
            found[str(ip)] = ip
    return list(found.values())


@dataclass
class SafeClient:
    """Posts to outside URLs under the address rules."""

    allow: AddressPolicy
    timeout: float = 10.0
    max_bytes: int = 64 * 1024
    resolver: Resolver = system_resolver

    def target(self, url: str) -> tuple[httpx.URL, str, Address]:
        """(URL to connect to, the original host, the checked address) or refusal."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise AddressRefused(f"{url!r}: {exc}") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise AddressRefused(f"{url!r}: only http:// and https:// URLs are fetched")
        host = parsed.host
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        literal = parse_ip(host)
        addresses = [literal] if literal is not None else self.resolver(host, port)
        reason = self.allow.check_all(host, addresses)
        if reason is not None:
            raise AddressRefused(reason)
        return parsed.copy_with(host=str(addresses[0])), host, addresses[0]

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Reply:
        connect_url, host, _address = self.target(url)
        parsed = httpx.URL(url)
        sent = dict(headers)
        sent["Host"] = host if parsed.port is None else f"{host}:{parsed.port}"
        extensions: dict[str, Any] = {}
        if parsed.scheme == "https":
            extensions["sni_hostname"] = host
        deadline = time.monotonic() + self.timeout
        try:
            with (
                httpx.Client(
                    timeout=httpx.Timeout(self.timeout), follow_redirects=False, trust_env=False
                ) as client,
                client.stream(
                    "POST", connect_url, content=body, headers=sent, extensions=extensions
                ) as response,
            ):
                data = bytearray()
                for chunk in response.iter_bytes():
                    data.extend(chunk)
                    if len(data) > self.max_bytes:
                        break  # the status is what counts; the rest is not read
                    if time.monotonic() > deadline:
                        raise RequestFailed(f"{host}: no complete answer within {self.timeout} s")
                return Reply(response.status_code, bytes(data[: self.max_bytes]))
        except httpx.TimeoutException as exc:
            raise RequestFailed(f"{host}: timed out after {self.timeout} s") from exc
        except httpx.HTTPError as exc:
            raise RequestFailed(f"{host}: {type(exc).__name__}: {exc}") from exc
