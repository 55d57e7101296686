"""``GET /metrics``: this process's Prometheus metrics plus the queue sizes, counted now."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry

from modelref import metrics
from modelref.service.queue_stats import STATUSES, QueueStats

router = APIRouter(tags=["monitoring"])


def queue_registry(stats: QueueStats) -> CollectorRegistry:
    """A registry holding the scrape-time queue-size collector of one deployment."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics.QueueSizes(stats.by_status, STATUSES))
    return registry


@router.get("/metrics", include_in_schema=False)
def scrape(request: Request) -> Response:
    """Prometheus text format (counters, histograms, ``modelref_queue_changes{status}``)."""
    registry: CollectorRegistry = request.app.state.queue_metrics
    return Response(metrics.exposition(registry), media_type=metrics.CONTENT_TYPE)
