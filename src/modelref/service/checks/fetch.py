"""The checker's HTTP client: every hop resolved and vetted before it connects, and bounded.

For each request and for every redirect hop the host name is resolved here, *every* address it
resolves to is checked against the :class:`~modelref.domain.address_policy.AddressPolicy`, and
the connection goes to the vetted address itself (``Host`` header and TLS SNI/certificate
check keep the name), so DNS cannot answer differently between the check and the connect.
Redirects are followed by hand, up to a limit, with loop detection. A :class:`Budget` bounds
the wall time and the bytes of one check job; no environment proxy is used.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from modelref.domain.address_policy import Address, AddressPolicy
from modelref.settings import Settings

REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "modelref-checker (review checks of the AI Horde model reference)"
#: Addresses of one host tried in turn when connecting fails.
MAX_ADDRESSES = 3


class FetchProblem(Exception):
    """Base of the checker's fetch outcomes other than an HTTP answer (message only)."""


class Unreachable(FetchProblem):
    """A network failure (DNS, refused, reset, timeout): the file's state is unknown."""


class Refused(FetchProblem):
    """The checker's policy forbids this hop (a private address, say)."""


class BadLink(FetchProblem):
    """The URL or its redirects are broken for certain (bad scheme, loop, too many hops)."""


class OverBudget(FetchProblem):
    """The job's byte budget is spent (not a failure of the file)."""


@dataclass(frozen=True)
class Limits:
    """Bounds of one check job."""

    time_limit: float
    io_timeout: float
    max_bytes: int
    max_redirects: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            time_limit=settings.check_time_limit_seconds,
            io_timeout=settings.check_io_timeout_seconds,
            max_bytes=settings.check_max_bytes,
            max_redirects=settings.check_max_redirects,
        )


@dataclass
class Budget:
    """What is left of one job's time and bytes (monotonic clock: never the service clock)."""

    limits: Limits
    started: float = field(default_factory=time.monotonic)
    spent: int = 0

    def left(self) -> float:
        left = self.limits.time_limit - (time.monotonic() - self.started)
        if left <= 0:
            raise Unreachable(
                f"timed out: the check's time limit of {self.limits.time_limit:g}s ran out"
            )
        return left

    def wait(self) -> float:
        """Seconds one network wait may take: the I/O timeout, or less near the deadline."""
        return min(self.limits.io_timeout, self.left())

    def take(self, n: int) -> None:
        self.spent += n
        if self.spent > self.limits.max_bytes:
            raise OverBudget(f"the check's byte budget of {self.limits.max_bytes:,} is spent")


@dataclass
class Answer:
    """An HTTP answer after redirects; ``url`` is the final URL (with its host name)."""

    url: str
    status: int
    headers: httpx.Headers
    response: httpx.Response
    redirects: int

    def content_type(self) -> str:
        return str(self.headers.get("content-type", ""))

    def size(self) -> int | None:
        """The whole file's size, from ``Content-Range`` (206) or ``Content-Length`` (200)."""
        if self.status == 206:
            total = self.headers.get("content-range", "").rpartition("/")[2].strip()
            return int(total) if total.isdigit() else None
        length = self.headers.get("content-length", "").strip()
        if self.status == 200 and length.isdigit():
            return int(length)
        return None

    def chunks(self, budget: Budget, size: int = 1 << 20) -> Iterator[bytes]:
        """The body, checked against the deadline and the byte budget chunk by chunk."""
        try:
            for chunk in self.response.iter_bytes(size):
                budget.left()
                budget.take(len(chunk))
                yield chunk
        except httpx.TimeoutException:
            raise Unreachable(f"timed out reading {self.url}") from None
        except httpx.TransportError as exc:
            raise Unreachable(f"the download broke off: {_reason(exc)}") from None


class Fetcher:
    """HTTP(S) requests to contributor-written URLs under an address policy."""

    def __init__(self, policy: AddressPolicy, limits: Limits) -> None:
        self.policy = policy
        self.limits = limits

    @contextmanager
    def open(
        self, method: str, url: str, budget: Budget, headers: dict[str, str] | None = None
    ) -> Iterator[Answer]:
        """The answer to ``method url`` after following redirects (body not read yet)."""
        current = _parse(url)
        visited = {str(current)}
        with httpx.Client(trust_env=False, follow_redirects=False) as client:
            for hop in range(self.limits.max_redirects + 1):
                response = self._send(client, method, current, budget, headers or {})
                location = response.headers.get("location")
                if response.status_code in REDIRECTS and location:
                    response.close()
                    try:
                        target = current.join(location)
                    except httpx.InvalidURL:
                        raise BadLink(f"redirect to an invalid URL: {location!r}") from None
                    current = _parse(str(target))
                    if str(current) in visited:
                        raise BadLink(f"redirect loop: {current} was visited before")
                    visited.add(str(current))
                    if response.status_code == 303 and method != "HEAD":
                        method = "GET"
                    continue
                answer = Answer(str(current), response.status_code, response.headers, response, hop)
                try:
                    yield answer
                finally:
                    response.close()
                return
        raise BadLink(f"more than {self.limits.max_redirects} redirects")

    def _send(
        self,
        client: httpx.Client,
        method: str,
        url: httpx.URL,
        budget: Budget,
        headers: dict[str, str],
    ) -> httpx.Response:
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = self.resolve(host, port, budget)
        for ip in addresses:
            reason = self.policy.check(host, ip)
            if reason is not None:
                raise Refused(reason)
        base = {
            "Host": url.netloc.decode("ascii"),
            "User-Agent": USER_AGENT,
            "Accept-Encoding": "identity",
        }
        extensions: dict[str, Any] = {"sni_hostname": host} if url.scheme == "https" else {}
        failure = ""
        for ip in addresses[:MAX_ADDRESSES]:
            request = client.build_request(
                method,
                url.copy_with(host=str(ip)),
                headers={**base, **headers},
                timeout=httpx.Timeout(budget.wait()),
                extensions=extensions,
            )
            try:
                return client.send(request, stream=True)
            except httpx.ConnectError as exc:
                failure = _reason(exc)
            except httpx.TimeoutException:
                raise Unreachable(f"timed out waiting for {host}") from None
            except httpx.TransportError as exc:
                raise Unreachable(f"{host}: {_reason(exc)}") from None
        raise Unreachable(f"cannot connect to {host} port {port}: {failure}")

    def resolve(self, host: str, port: int, budget: Budget) -> list[Address]:
        """Every address ``host`` resolves to (bounded by the budget's wait)."""
        try:
            return [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            pass
        infos = _getaddrinfo(host, port, budget.wait())
        found: list[Address] = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if ip not in found:
                found.append(ip)
        if not found:
            raise Unreachable(f"{host} has no address")
        return found


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise BadLink(f"not a valid URL: {url!r}") from None
    if parsed.scheme not in ("http", "https"):
        raise BadLink(f"only http and https URLs can be checked, not {parsed.scheme or url!r}")
    if not parsed.host:
        raise BadLink(f"the URL has no host: {url!r}")
    return parsed


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    return text or type(exc).__name__


def _getaddrinfo(host: str, port: int, timeout: float) -> list[Any]:
    """``socket.getaddrinfo`` with a timeout (it has none): run in a daemon thread."""
    result: list[Any] = []
    failure: list[str] = []
    done = threading.Event()

    def run() -> None:
        try:
            result.extend(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            failure.append(exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc))
        finally:
            done.set()

    threading.Thread(target=run, name=f"resolve {host}", daemon=True).start()
    if not done.wait(timeout):
        raise Unreachable(f"resolving {host} timed out")
    if failure:
        raise Unreachable(f"cannot resolve {host}: {failure[0]}")
    return result
