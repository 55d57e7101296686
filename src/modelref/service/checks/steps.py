"""Review-check steps on the caller's transaction (like :mod:`modelref.service.lifecycle`).

* :func:`schedule` runs inside the enqueue transaction: it computes the duplicate and identity
  findings (one indexed lookup), indexes the change's keys and, when the change touches
  downloads, queues a ``check`` outbox job, all committed with the change or not at all.
* :func:`restart` does the same for an on-demand re-run.
* :func:`view`, :func:`summaries` and :func:`blocking_errors` read what was found.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from modelref.domain import checks, identity, payloads
from modelref.domain.categories import AuditOperation, Category
from modelref.domain.checks import (
    ChangeChecks,
    CheckProgress,
    ChecksSummary,
    CheckState,
    Finding,
    Severity,
)
from modelref.domain.errors import InvalidTransition, ModelrefError, NotFound
from modelref.domain.identity import IdentityKey, KeyKind
from modelref.domain.jobs import JobState
from modelref.domain.queue_models import PendingChangeRecord
from modelref.domain.transitions import OPEN
from modelref.settings import Settings
from modelref.store.checks import CheckRun
from modelref.store.outbox import Job
from modelref.store.unit_of_work import Transaction

#: Outbox job kind of model-file checks; the job's subject is ``change:{id}``.
JOB_KIND = "check"
#: Job attempts beyond ``check_attempts`` left for crashes and unexpected errors.
SPARE_ATTEMPTS = 3

_UNSETTLED = (CheckState.pending, CheckState.running)


def subject(change_id: int) -> str:
    return f"change:{change_id}"


def proposed_record(change: PendingChangeRecord) -> dict[str, Any] | None:
    """The v2 record a create/update proposes (legacy payloads converted), if readable."""
    if change.operation is AuditOperation.DELETE or change.payload is None:
        return None
    try:
        record, _extras = payloads.as_v2(
            change.category, change.model_name, change.payload, change.request_metadata, None
        )
    except (ModelrefError, ValueError, KeyError, TypeError):
        return None
    return record


def sync_live_keys(tx: Transaction) -> None:
    """Rebuild the live keys of every category whose catalog version moved since indexed."""
    for category, version in tx.checks.stale_categories().items():
        if category not in Category.__members__:
            continue
        cat = Category(category)
        rows = tx.catalog.rows(category)
        tx.checks.replace_live_keys(
            category, version, [(r.name, identity.keys(cat, r.name, r.record)) for r in rows]
        )


def _identity(
    tx: Transaction, change: PendingChangeRecord, record: dict[str, Any] | None
) -> tuple[list[IdentityKey], list[Finding]]:
    sync_live_keys(tx)
    mine = identity.keys(change.category, change.model_name, record)
    author = next(((k.digest, k.display) for k in mine if k.kind is KeyKind.author), None)
    asking = (change.category.value, change.model_name)
    matches = tx.checks.matches([k.digest for k in mine], author, asking)
    return mine, identity.findings(change.category, change.model_name, mine, matches)


def _queue_job(tx: Transaction, change_id: int, now: int, settings: Settings) -> int:
    return tx.outbox.add(
        JOB_KIND,
        {"change_id": change_id},
        now=now,
        subject=subject(change_id),
        max_attempts=settings.check_attempts + SPARE_ATTEMPTS,
    )


def schedule(tx: Transaction, change: PendingChangeRecord, now: int, settings: Settings) -> None:
    """Findings and check job of a change just inserted in ``tx`` (nothing if checks are off)."""
    if not settings.checks:
        return
    cid = change.change_id
    record = proposed_record(change)
    if record is None:  # a delete: nothing it would download
        tx.checks.put(cid, CheckState.done, None, [], now, fresh=True)
        return
    keys, found = _identity(tx, change, record)
    tx.checks.add_keys(cid, change.category.value, change.model_name, keys)
    live = None  # a create has no live record (it was refused otherwise): no lookup
    if change.operation is AuditOperation.UPDATE:
        live = tx.catalog.get(change.category.value, change.model_name)
    if checks.touches_downloads(record, live.record if live is not None else None):
        job_id = _queue_job(tx, cid, now, settings)
        tx.checks.put(cid, CheckState.pending, job_id, found, now, fresh=True)
        return
    if checks.downloads(record):
        found.append(
            checks.finding(
                checks.URL,
                Severity.info,
                "config.download",
                "the downloads are those of the live record; not checked again (re-run the "
                "checks to verify them)",
            )
        )
    tx.checks.put(cid, CheckState.done, None, found, now, fresh=True)


def restart(tx: Transaction, change_id: int, now: int, settings: Settings) -> None:
    """Re-run every check of an open change; a job still running for it is superseded."""
    change = tx.queue.get(change_id)
    if change is None:
        raise NotFound("Change not found")
    if change.status not in OPEN:
        raise InvalidTransition(
            f"Change {change_id} is {change.status.value}: checks re-run only on open changes."
        )
    record = proposed_record(change)
    keys, found = _identity(tx, change, record)
    tx.checks.replace_change_keys(change_id, change.category.value, change.model_name, keys)
    if checks.downloads(record):
        job_id = _queue_job(tx, change_id, now, settings)
        tx.checks.put(change_id, CheckState.pending, job_id, found, now)
    else:
        tx.checks.put(change_id, CheckState.done, None, found, now)


# ---------------------------------------------------------------------- reads
def _settled(run: CheckRun, job: Job | None) -> tuple[CheckState, list[Finding]]:
    """The state shown: a run whose job died is ``unchecked``, with the job's last error."""
    findings = [*run.identity, *run.findings]
    if run.state not in _UNSETTLED or job is None:
        return run.state, findings
    if job.state is JobState.dead:
        text = f"the check job gave up: {job.last_error or 'no reason recorded'}"
        return CheckState.unchecked, [
            *findings,
            checks.finding("checker", Severity.warning, "config.download", text),
        ]
    if job.state is JobState.pending and job.attempts and job.last_error:
        text = f"attempt {job.attempts} could not finish ({job.last_error}); it will retry"
        findings.append(checks.finding("checker", Severity.info, "config.download", text))
        return CheckState.pending, findings
    return run.state, findings


def _jobs(tx: Transaction, runs: Iterable[CheckRun]) -> dict[int, Job]:
    ids = [r.job_id for r in runs if r.job_id is not None and r.state in _UNSETTLED]
    return {j.job_id: j for j in tx.outbox.get_many(ids)} if ids else {}


def _view(run: CheckRun, job: Job | None) -> ChangeChecks:
    state, findings = _settled(run, job)
    progress = None
    if state is CheckState.running:
        progress = CheckProgress(
            field=run.progress_field, bytes_done=run.bytes_done, bytes_total=run.bytes_total
        )
    return ChangeChecks(
        change_id=run.change_id,
        state=state,
        findings=findings,
        progress=progress,
        attempts=job.attempts if job is not None else run.attempts,
        updated_at=run.updated_at,
    )


def view(tx: Transaction, change_id: int) -> ChangeChecks:
    """The checks of a change (``unchecked`` with a note when none were ever recorded)."""
    run = tx.checks.run(change_id)
    if run is None:
        note = checks.finding(
            "checker",
            Severity.info,
            "config.download",
            "no checks were recorded for this change (proposed before checks existed or "
            "while they were off); re-run them to check it",
        )
        return ChangeChecks(change_id=change_id, state=CheckState.unchecked, findings=[note])
    jobs = _jobs(tx, [run])
    return _view(run, jobs.get(run.job_id) if run.job_id is not None else None)


def summaries(tx: Transaction, change_ids: Iterable[int]) -> dict[int, ChecksSummary]:
    """Counts per change, for lists and diffs (changes without checks are left out)."""
    runs = tx.checks.runs(change_ids)
    jobs = _jobs(tx, runs.values())
    return {
        cid: ChecksSummary.of(_view(run, jobs.get(run.job_id) if run.job_id else None))
        for cid, run in runs.items()
    }


def blocking_errors(tx: Transaction, change_id: int) -> list[Finding]:
    """Error findings of a change, for a stricter approval policy to refuse (or override).

    Under the default, upstream-compatible policy nothing calls this: findings only inform.
    It says what was found so far; ``view(tx, id).state`` tells whether checks are still
    running or ended ``unchecked``.
    """
    return [f for f in view(tx, change_id).findings if f.severity is Severity.error]
