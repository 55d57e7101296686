"""The apply engine is all-or-nothing, refuses lost updates, is idempotent per job id, splits a
batch at most once, and applies each change exactly once under concurrency.

Every test uses the ``db_url`` fixture, so it runs on a real SQLite file AND on PostgreSQL.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelref.domain.categories import Category
from modelref.domain.errors import (
    ApplyFailed,
    Conflict,
    InvalidTransition,
    ReservationConflict,
    StaleChange,
)
from modelref.domain.queue_models import PendingChangeStatus as S
from modelref.http_status import status_of
from modelref.service.container import Services
from tests.catalog.helpers import (
    APPLIER,
    APPROVER,
    IMPORTER,
    Snapshot,
    apply,
    apply_events_per_change,
    approve,
    assert_consistent,
    assert_published,
    child_env,
    enqueue,
    misc_record,
    model_events_per_change,
    open_services,
    snapshot,
)

MISC = Category.miscellaneous
SEEDED = 30  # live models m-00 .. m-29 imported before each test


@pytest.fixture
def svc(db_url: str, tmp_path: Path) -> Iterator[Services]:
    services = open_services(db_url, tmp_path / "publish")
    seed = tmp_path / "seed"
    seed.mkdir()
    records = {f"m-{i:02d}": misc_record(f"m-{i:02d}") for i in range(SEEDED)}
    (seed / "miscellaneous.json").write_text(json.dumps(records))
    services.files.import_path(seed, IMPORTER)
    yield services
    services.db.dispose()


def events_after(svc: Services, before: Snapshot) -> list[Any]:
    events = svc.audit.events()
    assert events[: len(before.events)] == before.events, "the existing log was rewritten"
    return events[len(before.events) :]


def assert_queue_unchanged_but_released(
    before: Snapshot, after: Snapshot, released: list[int]
) -> None:
    """Queue rows equal except ``updated_at`` of the released reservations (reserve+release)."""
    assert after.queue.keys() == before.queue.keys()
    for cid, old in before.queue.items():
        new = after.queue[cid]
        if cid in released:
            assert new.status is S.APPROVED and new.applied_job_id is None
            new = new.model_copy(update={"updated_at": old.updated_at})
        assert new == old, cid


# ---------------------------------------------------------------------- atomicity


def _mixed_batch(svc: Services, poison: str) -> tuple[list[int], str]:
    """50 queued changes whose 37th becomes invalid once a rival change is applied first.

    Returns (the 50 ids in apply order, the poisoned model's name). The batch mixes creates,
    updates and deletes on distinct models, so every other change is valid on its own.
    """
    ids: list[int] = []
    target = "m-07" if poison in ("update_after_delete", "stale_update") else "late-arrival"
    rival = {
        "create_exists": ("create", misc_record(target, "rival create")),
        "update_after_delete": ("delete", None),
        "stale_update": ("update", misc_record(target, "rival update")),
    }[poison]
    rival_id = enqueue(svc, MISC, target, *rival)
    updates = iter(f"m-{i:02d}" for i in range(SEEDED) if i != 7)
    for index in range(50):
        if index == 36:
            op = "create" if poison == "create_exists" else "update"
            ids.append(enqueue(svc, MISC, target, op, misc_record(target, "the 37th change")))
        elif index % 5 == 1:
            name = next(updates)
            ids.append(enqueue(svc, MISC, name, "update", misc_record(name, "edited")))
        elif index % 5 == 3:
            ids.append(enqueue(svc, MISC, next(updates), "delete"))
        else:
            name = f"new-{index:02d}"
            ids.append(enqueue(svc, MISC, name, "create", misc_record(name)))
    approve(svc, [rival_id], title="rival")
    apply(svc, [rival_id])  # lands first: the 37th change is now invalid
    return ids, target


@pytest.mark.parametrize("poison", ["create_exists", "update_after_delete", "stale_update"])
def test_batch_of_50_with_invalid_37th_applies_nothing(
    svc: Services, tmp_path: Path, poison: str
) -> None:
    ids, target = _mixed_batch(svc, poison)
    batch = approve(svc, ids, title="fifty")
    publish = tmp_path / "publish"
    files = {p: p.read_bytes() for p in publish.rglob("*") if p.is_file()}
    before = snapshot(svc)

    with pytest.raises(ApplyFailed) as caught:
        svc.apply.apply_batch(batch, APPLIER.user_id, APPLIER.username, job_id="job-50")

    failure = caught.value
    assert failure.change_id == ids[36]
    assert f"Change {ids[36]}" in failure.message and target in failure.message
    assert isinstance(failure.cause, Conflict)
    assert status_of(failure) == 409
    after = snapshot(svc)
    assert after.catalog == before.catalog
    assert after.versions == before.versions
    assert_queue_unchanged_but_released(before, after, ids)
    new = events_after(svc, before)
    assert Counter(e.action for e in new) == {"reserve": 50, "release": 50}
    for cid in ids:
        mine = [e.action for e in new if e.change_id == cid]
        assert mine == ["reserve", "release"], cid
    assert all(e.job_id == "job-50" for e in new if e.action == "reserve")
    assert {p: p.read_bytes() for p in publish.rglob("*") if p.is_file()} == files
    assert_consistent(svc)

    # Nothing else was wrong: without the 37th change the other 49 apply in one go.
    svc.review.process_batch(
        approver_id=APPROVER.user_id,
        approver_username=APPROVER.username,
        batch_title="revoke",
        approved_ids=None,
        rejected_ids=[ids[36]],
        reject_reason="superseded by the rival change",
    )
    result = svc.apply.apply_batch(batch, APPLIER.user_id, APPLIER.username)
    assert sorted(r.change_id for r in result.applied) == sorted(ids[:36] + ids[37:])
    assert result.batch_split is None
    assert_consistent(svc)
    assert_published(svc, publish)


def test_failure_in_the_first_change_also_releases_everything(svc: Services) -> None:
    victim = enqueue(svc, MISC, "m-01", "update", misc_record("m-01", "victim"))
    others = [enqueue(svc, MISC, f"n-{i}", "create", misc_record(f"n-{i}")) for i in range(3)]
    rival = enqueue(svc, MISC, "m-01", "delete")
    approve(svc, [rival])
    apply(svc, [rival])
    approve(svc, [victim, *others])
    before = snapshot(svc)

    with pytest.raises(ApplyFailed, match=f"Change {victim}") as caught:
        apply(svc, [victim, *others])

    assert "no longer exists" in caught.value.message
    after = snapshot(svc)
    assert after.catalog == before.catalog
    assert_queue_unchanged_but_released(before, after, [victim, *others])
    assert_consistent(svc)


# ---------------------------------------------------------------------- lost update


def test_lost_update_is_refused_as_stale_unless_forced(svc: Services) -> None:
    base = svc.catalog.record(MISC, "m-05")
    a = enqueue(svc, MISC, "m-05", "update", misc_record("m-05", "edit A"))
    b = enqueue(svc, MISC, "m-05", "update", misc_record("m-05", "edit B"))
    assert svc.review.get_change(a).base_hash == svc.review.get_change(b).base_hash
    approve(svc, [a, b])
    diff_b = svc.catalog.diff(b)
    assert not diff_b.is_stale and diff_b.conflicts == [a]

    apply(svc, [a])
    assert svc.catalog.record(MISC, "m-05")["description"] == "edit A"
    assert svc.catalog.diff(b).is_stale
    before = snapshot(svc)

    with pytest.raises(ApplyFailed) as caught:
        apply(svc, [b])

    failure = caught.value
    assert failure.change_id == b
    assert isinstance(failure.cause, StaleChange)  # the cause says why, by its class
    assert isinstance(failure.cause, StaleChange) and isinstance(failure.cause, Conflict)
    assert status_of(failure) == 409
    assert failure.cause.code == "stale_change"
    assert f"Change {b}" in failure.cause.message and "'m-05'" in failure.cause.message
    after = snapshot(svc)
    assert after.catalog == before.catalog and after.versions == before.versions
    assert svc.review.get_change(b).status is S.APPROVED
    assert svc.catalog.record(MISC, "m-05")["description"] == "edit A"  # A not overwritten

    result = apply(svc, [b], force=True)

    assert [r.change_id for r in result.applied] == [b]
    record = svc.catalog.record(MISC, "m-05")
    assert record["description"] == "edit B"
    assert record["metadata"]["created_at"] == (base.get("metadata") or {}).get(
        "created_at", record["metadata"]["created_at"]
    )
    model_events = [
        e for e in svc.audit.events() if e.category == MISC.value and e.change_id in (a, b)
    ]
    assert [(e.change_id, e.payload["forced"]) for e in model_events] == [(a, False), (b, True)]
    assert model_events[1].payload["before"]["description"] == "edit A"
    apply_event = next(e for e in svc.audit.for_change(b) if e.action == "apply")
    assert apply_event.payload["after"].get("forced") is True
    assert_consistent(svc)


def test_update_after_delete_is_not_a_silent_recreate(svc: Services) -> None:
    upd = enqueue(svc, MISC, "m-09", "update", misc_record("m-09", "late edit"))
    dele = enqueue(svc, MISC, "m-09", "delete")
    approve(svc, [upd, dele])
    apply(svc, [dele])
    with pytest.raises(ApplyFailed, match="no longer exists"):
        apply(svc, [upd], force=True)  # force overrides staleness, never existence
    assert "m-09" not in svc.catalog.records(MISC)[0]
    assert_consistent(svc)


# ---------------------------------------------------------------------- idempotency


def test_same_job_id_after_success_returns_same_result_without_writing(svc: Services) -> None:
    ids = [enqueue(svc, MISC, f"idem-{i}", "create", misc_record(f"idem-{i}")) for i in range(4)]
    batch = approve(svc, ids)
    first = apply(svc, ids, job_id="job-idem")
    before = snapshot(svc)

    again = apply(svc, ids, job_id="job-idem")
    by_batch = svc.apply.apply_batch(batch, APPLIER.user_id, APPLIER.username, job_id="job-idem")

    assert again.job_id == first.job_id == "job-idem"
    assert [r.change_id for r in again.applied] == [r.change_id for r in first.applied] == ids
    assert [r.status for r in again.applied] == [S.APPLIED] * 4
    assert {r.change_id for r in by_batch.applied} == set(ids)
    after = snapshot(svc)
    assert len(after.events) == len(before.events)  # no second write, no event at all
    assert after == before

    with pytest.raises(ApplyFailed, match="status=applied") as refused:
        apply(svc, ids, job_id="another-job")
    assert isinstance(refused.value.cause, InvalidTransition)
    assert snapshot(svc) == before
    assert apply_events_per_change(after.events) == dict.fromkeys(ids, 1)


def test_same_job_id_retry_of_a_reserved_change_completes_it(svc: Services) -> None:
    """A retry with the job id that holds the reservation (e.g. after a timeout) applies."""
    cid = enqueue(svc, MISC, "retry", "create", misc_record("retry"))
    approve(svc, [cid])
    svc.reservations.reserve_for_apply(cid, "job-r", actor=APPLIER)
    with pytest.raises(ApplyFailed) as held:
        apply(svc, [cid], job_id="job-other")
    assert isinstance(held.value.cause, ReservationConflict) and held.value.change_id == cid
    result = apply(svc, [cid], job_id="job-r")
    assert [r.change_id for r in result.applied] == [cid]
    assert apply_events_per_change(svc.audit.events())[cid] == 1
    assert_consistent(svc)


# ---------------------------------------------------------------------- batch splits


def test_apply_batch_applies_a_whole_batch_without_split_cascade(svc: Services) -> None:
    ids = [enqueue(svc, MISC, f"b-{i}", "create", misc_record(f"b-{i}")) for i in range(10)]
    batch = approve(svc, ids)

    result = svc.apply.apply_batch(batch, APPLIER.user_id, APPLIER.username)

    assert [r.change_id for r in result.applied] == ids
    assert result.batch_split is None
    events = svc.audit.events()
    assert [e for e in events if e.action == "batch_split"] == []
    assert {svc.review.get_change(c).batch_id for c in ids} == {batch}
    assert_consistent(svc)


def test_partial_apply_splits_exactly_once(svc: Services) -> None:
    ids = [enqueue(svc, MISC, f"p-{i}", "create", misc_record(f"p-{i}")) for i in range(10)]
    batch = approve(svc, ids)

    result = apply(svc, ids[:4])

    split = result.batch_split
    assert split is not None
    assert split.original_batch_id == batch and split.reassigned_change_ids == ids[4:]
    splits = [e for e in svc.audit.events() if e.action == "batch_split"]
    assert len(splits) == 1
    assert splits[0].payload["after"]["reassigned_change_ids"] == ids[4:]
    assert {svc.review.get_change(c).batch_id for c in ids[:4]} == {batch}
    assert {svc.review.get_change(c).batch_id for c in ids[4:]} == {split.new_batch_id}

    rest = svc.apply.apply_batch(split.new_batch_id, APPLIER.user_id, APPLIER.username)
    assert [r.change_id for r in rest.applied] == ids[4:]
    assert rest.batch_split is None
    assert len([e for e in svc.audit.events() if e.action == "batch_split"]) == 1
    assert_consistent(svc)


# ---------------------------------------------------------------------- concurrency

WORKER = r"""
import json, sys, time
from pathlib import Path
from modelref.domain.errors import ModelrefError
from modelref.service.container import Services
from modelref.settings import Settings

url, ids_json, ready, go = sys.argv[1:5]
svc = Services.open(Settings(database_url=url))
ids = json.loads(ids_json)
Path(ready).touch()
deadline = time.time() + 30
while not Path(go).exists():
    if time.time() > deadline:
        sys.exit("no go signal")
    time.sleep(0.002)
applied, refused = [], []

def one(chunk):
    result = svc.apply.apply_changes(chunk, "3003", "carol#3003", allow_mixed_batch=True)
    applied.extend(r.change_id for r in result.applied)

for start in range(0, len(ids), 3):
    chunk = ids[start:start + 3]
    try:
        one(chunk)
    except ModelrefError:
        for cid in chunk:
            try:
                one([cid])
            except ModelrefError as exc:
                refused.append([cid, type(getattr(exc, 'cause', exc)).__name__])
svc.db.dispose()
print(json.dumps({"applied": applied, "refused": refused}))
"""


def test_two_processes_applying_overlapping_sets_apply_each_change_once(
    svc: Services, db_url: str, tmp_path: Path
) -> None:
    import subprocess
    import sys

    ids = [enqueue(svc, MISC, f"c-{i:02d}", "create", misc_record(f"c-{i:02d}")) for i in range(40)]
    ids += [
        enqueue(svc, MISC, f"m-{i:02d}", "update", misc_record(f"m-{i:02d}", "cc"))
        for i in range(10)
    ]
    approve(svc, ids)
    first, second = ids[:35], list(reversed(ids[15:]))  # 20 contested, opposite orders
    go = tmp_path / "go"
    env = child_env()
    procs = []
    for n, mine in enumerate((first, second)):
        ready = tmp_path / f"ready-{n}"
        args = [db_url, json.dumps(mine), str(ready), str(go)]
        procs.append(
            (
                ready,
                subprocess.Popen(
                    [sys.executable, "-c", WORKER, *args],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    deadline = time.time() + 60
    while not all(r.exists() for r, _p in procs):
        assert time.time() < deadline, "workers did not start"
        assert all(p.poll() is None for _r, p in procs), [p.communicate() for _r, p in procs]
        time.sleep(0.01)
    go.touch()
    outputs = []
    for _ready, proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    got_first, got_second = (set(o["applied"]) for o in outputs)
    assert got_first.isdisjoint(got_second)
    assert got_first | got_second == set(ids)
    # Every contested change was tried by both: one applied it, the other was refused.
    contested = set(first) & set(second)
    refused = [{cid for cid, _name in o["refused"]} for o in outputs]
    assert refused[0] | refused[1] == contested
    assert refused[0].isdisjoint(refused[1])
    assert refused[0] == contested - got_first and refused[1] == contested - got_second
    for o in outputs:
        # Refusals only ever say "someone else has it": never a validation or stale error.
        assert {name for _cid, name in o["refused"]} <= {
            "ReservationConflict",
            "InvalidTransition",
        }
    events = svc.audit.events()
    assert apply_events_per_change(events) == dict.fromkeys(ids, 1)
    assert model_events_per_change(events) == dict.fromkeys(ids, 1)
    live, _version = svc.catalog.records(MISC)
    for cid in ids:
        change = svc.review.get_change(cid)
        assert change.status is S.APPLIED
        assert change.payload is not None
        stored = {k: v for k, v in live[change.model_name].items() if k != "metadata"}
        assert stored == {k: v for k, v in change.payload.items() if k != "metadata"}
    assert svc.reservations.scan_stuck_applying() == []
    assert_consistent(svc)
