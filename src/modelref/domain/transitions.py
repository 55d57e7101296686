"""The state machine: the one table of allowed status moves.

Only the store's transition function writes ``status``, and it asks :func:`check` first, so a
move not in :data:`ALLOWED` cannot happen anywhere.
"""

from __future__ import annotations

from enum import StrEnum

from modelref.domain.errors import InvalidTransition
from modelref.domain.queue_models import PendingChangeStatus as S


class Action(StrEnum):
    """Every audited event kind of the queue."""

    enqueue = "enqueue"
    approve = "approve"
    reject = "reject"
    withdraw = "withdraw"
    reserve = "reserve"
    release = "release"
    apply = "apply"
    recover = "recover"
    batch_split = "batch_split"
    purge = "purge"
    #: An approval recorded without a status move (below quorum, or a fresh approval of an
    #: approved change whose approvals went stale): no entry in :data:`ALLOWED`.
    endorse = "endorse"
    #: The live record a change was based on moved: its approvals no longer count.
    approvals_stale = "approvals_stale"


#: (action, from-status) -> to-status.  Anything absent is refused.
ALLOWED: dict[tuple[Action, S], S] = {
    (Action.approve, S.PENDING): S.APPROVED,
    (Action.reject, S.PENDING): S.REJECTED,
    (Action.reject, S.APPROVED): S.REJECTED,  # an approver may revoke before apply
    (Action.withdraw, S.PENDING): S.REJECTED,
    (Action.reserve, S.APPROVED): S.APPLYING,
    (Action.release, S.APPLYING): S.APPROVED,
    (Action.recover, S.APPLYING): S.APPROVED,
    (Action.apply, S.APPLYING): S.APPLIED,
}

#: Statuses purge may remove: never a change that is being, or has been, written.
PURGEABLE: frozenset[S] = frozenset({S.PENDING, S.APPROVED, S.REJECTED})

#: Statuses that count as "open" for conflicts and the beta view.
OPEN: frozenset[S] = frozenset({S.PENDING, S.APPROVED})

TERMINAL: frozenset[S] = frozenset({S.APPLIED, S.REJECTED})


def target(action: Action, current: S) -> S | None:
    """The status ``action`` leads to from ``current``, or ``None`` when not allowed."""
    return ALLOWED.get((action, current))


def check(action: Action, current: S, change_id: int) -> S:
    """Return the target status or raise :class:`InvalidTransition` naming the change."""
    to = target(action, current)
    if to is None:
        raise InvalidTransition(refusal(action, current, change_id))
    return to


def refusal(action: Action, current: S, change_id: int) -> str:
    """Upstream's wording for a refused move (http-api §6)."""
    if action in (Action.approve, Action.withdraw) or (
        action is Action.reject and current is not S.APPROVED
    ):
        return f"Change {change_id} is not pending (status={current.value})."
    if action is Action.reserve:
        return f"Change {change_id} is not approved (status={current.value})."
    return f"Change {change_id} cannot {action.value} from status {current.value}."
