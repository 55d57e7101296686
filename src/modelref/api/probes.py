"""Capability probes (no auth) and the caller's roles (spec http-api §1, §8)."""

from __future__ import annotations

from fastapi import APIRouter

from modelref.api.deps import ApiKey, Svc
from modelref.api.errors import responses
from modelref.api.schemas import (
    Heartbeat,
    HordeHealth,
    Message,
    Readiness,
    ReplicateMode,
    UserRoles,
)
from modelref.service.auth import Role

router = APIRouter(tags=["probes"])
roles_router = APIRouter(tags=["roles"])


@router.get("/replicate_mode", response_model=ReplicateMode)
def replicate_mode(services: Svc) -> ReplicateMode:
    """modelref instances are always PRIMARY: every instance may write (one shared database)."""
    return ReplicateMode(
        replicate_mode="PRIMARY",
        canonical_format=services.settings.canonical_format,
        writable=True,
    )


@router.get("/heartbeat", response_model=Heartbeat)
def heartbeat(services: Svc) -> Heartbeat:
    failures = int(getattr(services.auth.provider, "consecutive_failures", 0))
    return Heartbeat(
        status="ok",
        ai_horde=HordeHealth(
            degraded=failures > 0, consecutive_failures=failures, seconds_until_retry=None
        ),
    )


@router.get("/health/ready", response_model=Readiness, responses=responses(503))
def ready(services: Svc) -> Readiness:
    """Readiness: 200 when the database answers, 503 when it does not (liveness is
    ``/heartbeat``, which never touches the database)."""
    services.check_ready()
    return Readiness(status="ready", database="ok")


@router.get("/", response_model=Message)
def root() -> Message:
    return Message(message="modelref: the review-gated AI Horde model reference. See /docs.")


@roles_router.get("/me/roles", response_model=UserRoles, responses=responses(401, 503))
def my_roles(key: ApiKey, services: Svc) -> UserRoles:
    """The caller's identity and roles (any valid key)."""
    who = services.auth.identify(key)
    return UserRoles(
        user_id=who.user_id,
        username=who.username,
        roles=who.roles,
        is_approver=who.has(Role.approver),
        is_requestor=who.has(Role.requestor),
    )
