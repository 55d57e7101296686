"""In-process checks of the CLI's pure parts: ``--set`` editing and the exit-code table."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from modelref.cli import errors
from modelref.cli.payload import apply_edits, parse_value
from modelref.cli.remote import api_base
from modelref.domain import errors as domain
from modelref.service.apply import ApplyFailed


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
        (domain.ReservationConflict("held"), errors.CONFLICT),
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
        (errors.RemoteError(409, "stale"), errors.CONFLICT),
        (errors.RemoteError(401, "Invalid API key"), errors.AUTH),
        (errors.RemoteError(403, "not approver"), errors.AUTH),
        (errors.RemoteError(404, "Change not found"), errors.DOMAIN),
        (errors.RemoteError(400, "not pending"), errors.DOMAIN),
        (errors.RemoteError(422, "bad"), errors.DOMAIN),
        (errors.RemoteError(503, "down"), errors.UNREACHABLE),
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
