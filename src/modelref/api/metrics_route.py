"""``GET /metrics``: this process's Prometheus metrics plus the queue sizes, counted now."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry

from modelref import metrics
from modelref.domain.queue_models import PendingChangeStatus
from modelref.service.review import ReviewService

router = APIRouter(tags=["monitoring"])
STATUSES = [s.value for s in PendingChangeStatus]


def queue_registry(review: ReviewService) -> CollectorRegistry:
    """A registry holding the scrape-time queue-size collector of one deployment."""

    def by_status() -> dict[str, int]:
        return {s.value: n for s, n in review.counts_by_status().items()}

    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics.QueueSizes(by_status, STATUSES))
    return registry


@router.get("/metrics", include_in_schema=False)
def scrape(request: Request) -> Response:
    """Prometheus text format (counters, histograms, ``modelref_queue_changes{status}``)."""
    registry: CollectorRegistry = request.app.state.queue_metrics
    return Response(metrics.exposition(registry), media_type=metrics.CONTENT_TYPE)
