"""In-process checks of the CLI's pure parts: ``--set`` editing and the exit-code table."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from modelref.cli import errors
from modelref.cli.payload import apply_edits, parse_value
from modelref.cli.remote import api_base
from modelref.domain import errors as domain
from modelref.domain.errors import ApplyFailed
from modelref.http_status import error_from_wire


def test_values_are_json_when_they_parse() -> None:
    assert parse_value("true") is True
    assert parse_value("12") == 12
    assert parse_value('["a", 1]') == ["a", 1]
    assert parse_value("null") is None
    assert parse_value("Mostly NSFW, anime") == "Mostly NSFW, anime"
    assert parse_value('"7"') == "7"


def test_set_edits_a_deep_copy() -> None:
    base: dict[str, Any] = {"name": "m", "config": {"download": [{"file_url": "a"}]}}
    edited = apply_edits(
        base, ["config.download.0.file_url=b", "requirements.clip_skip=2", "nsfw=false"]
    )
    assert edited == {
        "name": "m",
        "config": {"download": [{"file_url": "b"}]},
        "requirements": {"clip_skip": 2},
        "nsfw": False,
    }
    assert base["config"]["download"][0]["file_url"] == "a"


@pytest.mark.parametrize(
    "edit", ["nofield", "=x", "a..b=1", "config.download.5.x=1", "name.first=1"]
)
def test_bad_edits_are_usage_errors(edit: str) -> None:
    with pytest.raises(errors.UsageProblem):
        apply_edits({"name": "m", "config": {"download": []}}, [edit])


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (domain.StaleChange("Change 2 is stale"), errors.CONFLICT),
        (domain.ReservationConflict(7, "job-a"), errors.CONFLICT),
        (domain.Conflict("exists"), errors.CONFLICT),
        (ApplyFailed(3, domain.StaleChange("stale")), errors.CONFLICT),
        (ApplyFailed(3, domain.NotFound("gone")), errors.DOMAIN),
        (domain.AuthenticationFailed("Invalid API key"), errors.AUTH),
        (domain.PermissionDenied("two-person rule"), errors.AUTH),
        (domain.NotFound("Change not found"), errors.DOMAIN),
        (domain.ValidationFailed("nsfw: bad"), errors.DOMAIN),
        (domain.InvalidTransition("not pending"), errors.DOMAIN),
        (domain.ServiceUnavailable("horde down"), errors.UNREACHABLE),
        (domain.StorageError("db down"), errors.UNREACHABLE),
        (error_from_wire(409, "stale", {"code": "stale_change"}), errors.CONFLICT),
        (error_from_wire(409, "held", {"code": "reservation_conflict"}), errors.CONFLICT),
        (error_from_wire(401, "Invalid API key", {"code": "authentication_failed"}), errors.AUTH),
        (error_from_wire(403, "not approver", None), errors.AUTH),
        (error_from_wire(404, "Change not found", {"detail": "Change not found"}), errors.DOMAIN),
        (error_from_wire(400, "not pending", None), errors.DOMAIN),
        (error_from_wire(422, "bad", None), errors.DOMAIN),
        (error_from_wire(503, "down", {"code": "service_unavailable"}), errors.UNREACHABLE),
        (error_from_wire(502, "bad gateway", None), errors.UNREACHABLE),
        (
            error_from_wire(409, "x", {"failed_change_id": 4, "code": "stale_change"}),
            errors.CONFLICT,
        ),
        (httpx.ConnectError("refused"), errors.UNREACHABLE),
        (httpx.ReadTimeout("slow"), errors.UNREACHABLE),
        (errors.UsageProblem("bad flags"), errors.USAGE),
    ],
)
def test_exit_code_table(exc: BaseException, code: int) -> None:
    assert errors.exit_code(exc) == code


def test_api_base() -> None:
    assert api_base("http://127.0.0.1:8000") == "http://127.0.0.1:8000/api"
    assert api_base("http://127.0.0.1:8000/api/") == "http://127.0.0.1:8000/api"
    with pytest.raises(errors.UsageProblem):
        api_base("127.0.0.1:8000")
