"""Prometheus metrics of one modelref process (``GET /metrics``, text exposition format).

Everything lives in :data:`REGISTRY` and is updated where things happen: the access-log
middleware (requests, latencies, read-cache hits: :class:`RequestStats`), the apply engine
(apply durations) and the lease reaper (reverted reservations). Queue sizes are not kept
here: they are counted by one indexed ``GROUP BY`` when ``/metrics`` is scraped
(:class:`QueueSizes`), so they are right whichever instance changed the queue. With
``--workers N`` every worker answers for itself (no multiprocess aggregation).
"""

from __future__ import annotations

import functools
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from typing import ParamSpec, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

disable_created_metrics()  # type: ignore[no-untyped-call]  # no ``*_created`` series: they only add noise here
REGISTRY = CollectorRegistry(auto_describe=True)

#: Upper bounds (seconds) of the request-latency histogram buckets.
HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class RequestStats(Collector):
    """Request counts, latencies and read-cache results as plain numbers, exported at scrape.

    The access middleware runs on the event loop's one thread and calls :meth:`observe` for
    every request, cached fast-path reads included: a dict update and a bisect (~1 µs), where
    prometheus-client's locked counter and histogram cost several times that. A scrape
    copies the dicts (atomic under the GIL) and builds the metric families.
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], int] = {}
        #: (method, route) -> per-bucket counts, the +Inf count, then the sum of seconds
        self.latency: dict[tuple[str, str], list[float]] = {}
        self.cache = {"hit": 0, "miss": 0}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        self.counts[key] = self.counts.get(key, 0) + 1
        row = self.latency.get((method, route))
        if row is None:
            row = self.latency[(method, route)] = [0.0] * (len(HTTP_BUCKETS) + 2)
        row[bisect_left(HTTP_BUCKETS, seconds)] += 1
        row[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "modelref_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            labels=["method", "route", "status"],
        )
        for key, total in dict(self.counts).items():
            requests.add_metric(list(key), total)
        yield requests
        seconds = HistogramMetricFamily(
            "modelref_http_request_duration_seconds",
            "Time from the request to the end of its response, by method and route template.",
            labels=["method", "route"],
        )
        for route_key, stored in dict(self.latency).items():
            row = list(stored)
            running = 0.0
            buckets: list[tuple[str, float]] = []
            for bound, in_bucket in zip((*HTTP_BUCKETS, float("inf")), row[:-1], strict=True):
                running += in_bucket
                buckets.append((_bound(bound), running))
            seconds.add_metric(list(route_key), buckets, sum_value=row[-1])
        yield seconds
        cache = CounterMetricFamily(
            "modelref_read_cache_lookups",
            "Cached catalog reads answered by the fast path: hit (from memory) or miss (built).",
            labels=["result"],
        )
        for result, count in dict(self.cache).items():
            cache.add_metric([result], count)
        yield cache


def _bound(value: float) -> str:
    """A bucket bound as Prometheus writes it (``0.005``, ``1.0``, ``+Inf``)."""
    return "+Inf" if value == float("inf") else repr(float(value))


REQUESTS = RequestStats()
REGISTRY.register(REQUESTS)

APPLY_SECONDS = Histogram(
    "modelref_apply_duration_seconds",
    "Duration of apply calls, reservation to commit, by outcome (applied or failed).",
    ["outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
RECOVERED = Counter(
    "modelref_reaper_recovered_reservations",
    "APPLYING reservations whose lease expired, reverted to approved by the lease reaper.",
    registry=REGISTRY,
)


P = ParamSpec("P")
R = TypeVar("R")


def timed_apply(fn: Callable[P, R]) -> Callable[P, R]:
    """Observe ``fn``'s duration in :data:`APPLY_SECONDS` (outcome ``applied``/``failed``)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        try:
            result = fn(*args, **kwargs)
        except BaseException:
            APPLY_SECONDS.labels("failed").observe(time.perf_counter() - started)
            raise
        APPLY_SECONDS.labels("applied").observe(time.perf_counter() - started)
        return result

    return wrapper


class QueueSizes(Collector):
    """``modelref_queue_changes{status=...}``, counted at scrape time by ``counts()``."""

    def __init__(self, counts: Callable[[], Mapping[str, int]], statuses: list[str]) -> None:
        self.counts = counts
        self.statuses = statuses

    def collect(self) -> Iterator[Metric]:
        found = self.counts()
        family = GaugeMetricFamily(
            "modelref_queue_changes", "Changes in the review queue, by status.", labels=["status"]
        )
        for status in self.statuses:
            family.add_metric([status], float(found.get(status, 0)))
        yield family


def exposition(*extra: CollectorRegistry) -> bytes:
    """The text format of :data:`REGISTRY` followed by ``extra`` registries."""
    return b"".join(generate_latest(r) for r in (REGISTRY, *extra))
