"""The deployment's approval policy: loading it, and what it asks of a change.

``MODELREF_APPROVAL_POLICY`` names a built-in policy (``upstream``, ``critical-two``) or a
TOML file; a file that cannot be read or does not validate stops the service at start-up with
a message naming the rule and the key. :func:`requirement` evaluates a change against the live
record it would replace, exactly as the apply would write it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelref.domain import payloads, quorum, records
from modelref.domain.categories import AuditOperation
from modelref.domain.errors import ModelrefError, ValidationFailed
from modelref.domain.policy import BUILT_IN, Policy, Requirement, touched_paths
from modelref.domain.policy_file import parse_policy
from modelref.domain.queue_models import PendingChangeRecord, PendingChangeStatus
from modelref.domain.quorum import Tally
from modelref.settings import Settings
from modelref.store.catalog import CatalogRow
from modelref.store.database import Database


def load_policy(settings: Settings) -> Policy:
    """The policy ``settings.approval_policy`` names; :class:`ValidationFailed` if unusable."""
    value = settings.approval_policy.strip()
    if value in BUILT_IN:
        return BUILT_IN[value]
    path = Path(value).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        choices = ", ".join(BUILT_IN)
        raise ValidationFailed(
            f"MODELREF_APPROVAL_POLICY: {value!r} is neither a built-in policy ({choices}) "
            f"nor a readable TOML file: {exc}"
        ) from None
    return parse_policy(text, str(path))


def _live_side(change: PendingChangeRecord, live: CatalogRow | None) -> dict[str, Any] | None:
    """The live record as the payload would spell it (category defaults filled in)."""
    if live is None:
        return None
    if change.operation is AuditOperation.DELETE:
        return live.record
    try:
        return records.validate_record(change.category, live.record)
    except ValidationFailed:
        return live.record


def _proposed_side(change: PendingChangeRecord, live: CatalogRow | None) -> dict[str, Any] | None:
    """The record the apply would write (legacy payloads converted), None for a delete."""
    if change.operation is AuditOperation.DELETE or change.payload is None:
        return None
    try:
        record, _extras = payloads.as_v2(
            change.category,
            change.model_name,
            change.payload,
            change.request_metadata,
            live.extras if live is not None else None,
        )
    except ModelrefError:
        return change.payload
    return record


def requirement(
    policy: Policy, change: PendingChangeRecord, live: CatalogRow | None
) -> Requirement:
    """How many distinct approvers ``change`` needs against the live record ``live``."""
    touched = touched_paths(_live_side(change, live), _proposed_side(change, live))
    return policy.required(change.category, change.operation, touched)


@dataclass(frozen=True)
class Standing:
    """Where a change stands under the policy, for reviewers (the UI's approvals panel)."""

    requirement: Requirement
    tally: Tally | None
    #: The live record moved since the change's base: approving now re-bases it.
    rebases: bool
    #: An approver may approve it now (pending, or approved with stale approvals).
    approvable: bool

    @property
    def fresh(self) -> int:
        """Approvals that count now (none once the base moved: approving re-bases)."""
        return len(self.tally.fresh) if self.tally is not None and not self.rebases else 0


class Governance:
    """Read side of the approval policy over one database."""

    def __init__(self, db: Database, policy: Policy) -> None:
        self.db = db
        self.policy = policy

    def standings(self, change_ids: Iterable[int]) -> dict[int, Standing]:
        """The standing of each known change (empty under the upstream policy)."""
        if self.policy.upstream:
            return {}
        with self.db.read() as tx:
            changes = tx.queue.get_many(change_ids)
            live = tx.catalog.get_many({(c.category.value, c.model_name) for c in changes.values()})
        out: dict[int, Standing] = {}
        for cid, change in changes.items():
            row = live.get((change.category.value, change.model_name))
            rebases = (row.content_hash if row is not None else None) != change.base_hash
            needed = requirement(self.policy, change, row)
            fresh_ok = quorum.takes_fresh_approval(
                change, rebases=rebases, required=needed.approvals
            )
            out[cid] = Standing(
                needed,
                quorum.tally(change),
                rebases=rebases,
                approvable=change.status is PendingChangeStatus.PENDING or fresh_ok,
            )
        return out
