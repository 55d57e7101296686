"""Webhook subscriptions and their dead-letter list over HTTP (approvers only).

Twin of ``modelref webhooks add|list|remove|failures|replay``. Secrets are write-only: a
subscription created without one gets a generated secret, shown in that answer only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from modelref.api.deps import MAX_ID, ApiKey, Svc, no_nul, require
from modelref.api.errors import responses
from modelref.domain.actors import Actor
from modelref.service.auth import Role
from modelref.service.webhooks import failure_wire

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

SubscriptionId = Annotated[int, Path(ge=1, le=MAX_ID, description="Subscription id")]
JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="Outbox job id of the delivery")]


class WebhookIn(BaseModel):
    url: str = Field(max_length=2000, description="http(s) URL receiving the events")
    events: list[str] = Field(
        default=["enqueue", "approve", "apply"],
        max_length=10,
        description="Some of enqueue, approve, reject, withdraw, apply",
    )
    format: Literal["json", "discord"] = "json"
    secret: str | None = Field(
        default=None, max_length=256, description="Signing secret (generated when omitted)"
    )


class WebhookOut(BaseModel):
    subscription_id: int
    url: str
    events: list[str]
    format: str
    created_by: str
    created_username: str
    created_at: int


class WebhookCreated(WebhookOut):
    #: The generated secret (only when none was given; never shown again).
    secret: str | None = None


class Deleted(BaseModel):
    subscription_id: int
    deleted: bool


class WebhookFailure(BaseModel):
    job_id: int
    subscription_id: int | None
    event: str | None
    event_id: int | None
    change_id: int | None
    attempts: int
    last_error: str | None
    updated_at: int
    state: str


@router.get("", response_model=list[WebhookOut], responses=responses(401, 403))
def list_webhooks(key: ApiKey, services: Svc) -> list[dict[str, Any]]:
    """Every subscription (without secrets)."""
    require(services, key, Role.approver)
    return [s.public() for s in services.webhooks.subscriptions()]


@router.post("", status_code=201, response_model=WebhookCreated, responses=responses(401, 403, 503))
def add_webhook(body: WebhookIn, key: ApiKey, services: Svc) -> dict[str, Any]:
    """Subscribe a URL to queue events, delivered signed (``X-Modelref-Signature``)."""
    who = require(services, key, Role.approver)
    no_nul(body.url, "url")
    no_nul(body.secret, "secret")
    sub, generated = services.webhooks.add(
        body.url, body.events, body.format, body.secret, Actor(who.user_id, who.username)
    )
    return {**sub.public(), "secret": generated}


@router.delete("/{subscription_id}", response_model=Deleted, responses=responses(401, 403, 404))
def remove_webhook(subscription_id: SubscriptionId, key: ApiKey, services: Svc) -> Deleted:
    """Stop deliveries to a subscription (waiting ones are skipped)."""
    require(services, key, Role.approver)
    services.webhooks.remove(subscription_id)
    return Deleted(subscription_id=subscription_id, deleted=True)


@router.get("/failures", response_model=list[WebhookFailure], responses=responses(401, 403))
def webhook_failures(
    key: ApiKey, services: Svc, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """The dead-letter list: deliveries that failed every attempt."""
    require(services, key, Role.approver)
    return [failure_wire(job) for job in services.webhooks.failures(limit)]


@router.post(
    "/failures/{job_id}/replay",
    response_model=WebhookFailure,
    responses=responses(401, 403, 404),
)
def replay_webhook(job_id: JobId, key: ApiKey, services: Svc) -> dict[str, Any]:
    """Try a dead delivery again, with a fresh attempt budget."""
    require(services, key, Role.approver)
    return failure_wire(services.webhooks.replay(job_id))
