"""Review checks meet the approval policy: under upstream's they inform, under a strict policy
an error finding blocks an approval until an approver overrides it, and the log says so."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from modelref.domain.checks import Severity
from modelref.domain.errors import ChecksFailed
from modelref.domain.queue_models import PendingChangeStatus as S
from tests.checks.conftest import Deployment, of, record
from tests.factories import BOB, CAROL


def _broken(dep: Deployment) -> int:
    """A change whose one download is the wrong file (its sha256 does not match)."""
    change_id = dep.propose(
        record("wrong-file", dep.server.url("/files/model.safetensors"), sha="ab" * 32)
    )
    dep.run_checks()
    errors = [f for f in dep.checks(change_id).findings if f.severity is Severity.error]
    assert errors, dep.checks(change_id)
    return change_id


def approve(
    dep: Deployment, change_id: int, who: tuple[str, str], *, override_checks: bool = False
) -> None:
    dep.services.review.process_batch(
        approver_id=who[0],
        approver_username=who[1],
        batch_title="checked",
        approved_ids=[change_id],
        rejected_ids=None,
        override_checks=override_checks,
    )


def test_upstream_policy_lets_findings_inform_only(deploy: Callable[..., Deployment]) -> None:
    dep = deploy()
    change_id = _broken(dep)
    approve(dep, change_id, BOB)
    assert dep.services.review.get_change(change_id).status is S.APPROVED


def test_a_strict_policy_needs_an_override_which_the_log_records(
    deploy: Callable[..., Deployment],
) -> None:
    dep = deploy(approval_policy="critical-two")
    change_id = _broken(dep)
    events_before = len(dep.services.audit.events())
    with pytest.raises(ChecksFailed) as refused:
        approve(dep, change_id, BOB)
    assert f"Change {change_id}" in refused.value.message
    assert "override" in refused.value.message
    assert len(dep.services.audit.events()) == events_before  # nothing recorded

    approve(dep, change_id, BOB, override_checks=True)
    approve(dep, change_id, CAROL, override_checks=True)
    assert dep.services.review.get_change(change_id).status is S.APPROVED
    overrides = [
        e.payload["after"]["checks_overridden"]
        for e in dep.services.audit.events()
        if e.change_id == change_id and "checks_overridden" in e.payload.get("after", {})
    ]
    assert len(overrides) == 2
    assert all(any("sha256" in m for m in found) for found in overrides), overrides
    assert of(dep.checks(change_id), "sha256", Severity.error)
