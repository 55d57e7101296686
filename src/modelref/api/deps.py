"""Dependencies shared by the routers: the services, the ``apikey`` header, gates, limits.

Authentication is split on purpose: the header's *presence* is a FastAPI dependency (401 "Not
authenticated" before anything else), while the key lookup runs inside the handler after the
request has validated, so a malformed request with a wrong key gets 422 as upstream does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyHeader

from modelref.api.errors import RequestRejected
from modelref.domain import inputs
from modelref.domain.categories import LEGACY_CATEGORIES, Category
from modelref.domain.errors import ServiceUnavailable
from modelref.service.auth import Identity, Role
from modelref.service.container import Services

#: Largest id accepted in paths, queries and bodies (the input policy's).
MAX_ID = inputs.MAX_ID
#: Upper bound of ``offset`` query parameters.
MAX_OFFSET = 10**9

api_key_header = APIKeyHeader(
    name="apikey",
    scheme_name="APIKeyHeader",
    description="An API key: a local key (`modelref keys create`) or an AI Horde key.",
)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


Svc = Annotated[Services, Depends(get_services)]
ApiKey = Annotated[str, Security(api_key_header)]
ChangeId = Annotated[int, Path(ge=-MAX_ID, le=MAX_ID, description="Change id")]
BatchId = Annotated[int, Path(ge=1, le=MAX_ID, description="Batch id")]
ModelName = Annotated[str, Path(description="Model name; `Author/Model` works raw or %2F-encoded")]


def require(services: Services, key: str, role: Role) -> Identity:
    """Identify the caller and check ``role`` (401/403/503 through the domain errors)."""
    return services.auth.require(key, role)


def no_nul(value: str | None, field: str) -> str | None:
    """Refuse NUL characters, which no database column can hold (422, never a 500)."""
    if value is not None and "\x00" in value:
        raise RequestRejected(422, f"{field}: must not contain NUL characters", "validation_failed")
    return value


def v2_write_gate(services: Services, category: Category) -> None:
    """v2 writes need canonical ``v2``, except categories with no legacy form (spec §5 step 3)."""
    fmt = services.settings.canonical_format
    if fmt != "v2" and category in LEGACY_CATEGORIES:
        raise ServiceUnavailable(
            "This deployment does not expose write operations for this API. "
            f"Expected canonical_format='v2', got '{fmt}'."
        )


def reject_backend_prefix(category: Category, name: str) -> None:
    """Text names starting with a backend prefix are refused with 400 (spec §5 step 5)."""
    from modelref.domain import text_variants

    if category is Category.text_generation and text_variants.has_backend_prefix(name):
        raise RequestRejected(400, text_variants.text_name_problem(name) or name)
