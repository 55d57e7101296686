"""Catalog versions and the change feed on both engines, with two instances on one database.

A reader that starts at version 0 and applies the feed page by page to empty categories must
end byte-equal to a full read of every category; versions are dense and monotonic across
instances; a version exists exactly when its catalog write committed.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelref.domain.categories import Category
from modelref.domain.errors import ApplyFailed, NotFound, ValidationFailed
from modelref.service.container import Services
from modelref.service.rendering import dump_v2
from tests.catalog.helpers import (
    IMPORTER,
    apply,
    approve,
    enqueue,
    misc_record,
    open_services,
)
from tests.factories import seed_catalog


def write_reference(directory: Path, files: dict[str, dict[str, Any]]) -> Path:
    """v2 files written for the test (records in their own, non-alphabetical key order)."""
    (directory / "v2").mkdir(parents=True, exist_ok=True)
    for name, records in files.items():
        (directory / "v2" / name).write_text(json.dumps(records, indent=4))
    return directory


def read_feed(svc: Services, since: int, limit: int) -> tuple[dict[str, dict[str, Any]], int, int]:
    """What a third-party reader does: apply pages until ``next`` is null.

    Returns (categories, the version reached, the number of pages read).
    """
    state: dict[str, dict[str, Any]] = {}
    pages = 0
    cursor: int | None = since
    version = since
    while cursor is not None:
        page = svc.feed.changes(cursor, limit).wire()
        # JSON round trip: the reader sees the wire form, not our objects.
        page = json.loads(json.dumps(page, ensure_ascii=False))
        pages += 1
        assert page["since"] == cursor and page["version"] >= cursor
        for change in page["changes"]:
            assert cursor < change["version"] <= page["version"]
            content = state.setdefault(change["category"], {})
            if change["operation"] == "import":
                content.clear()
                content.update(change["after"])
            elif change["after"] is None:
                content.pop(change["model"])
            else:
                content[change["model"]] = change["after"]
        version = page["version"]
        cursor = page["next"]
    return state, version, pages


def full_read(svc: Services) -> dict[str, bytes]:
    """Every category as ``GET /v2/{category}`` serves it (the read cache's bytes)."""
    bodies = {}
    svc.read_cache.invalidate()  # another instance may have written: check the versions now
    for category in svc.catalog.versions():
        entry = svc.read_cache.get("v2", category)
        assert entry is not None
        bodies[category.value] = entry.rendered.body
    return bodies


@pytest.fixture
def two(db_url: str) -> Iterator[tuple[Services, Services]]:
    a = open_services(db_url)
    b = open_services(db_url)
    yield a, b
    a.db.dispose()
    b.db.dispose()


def test_a_reader_at_version_0_catches_up_page_by_page_to_a_full_read(
    two: tuple[Services, Services], tmp_path: Path
) -> None:
    a, b = two
    ref = write_reference(
        tmp_path / "ref",
        {
            "miscellaneous.json": {f"m{i}": misc_record(f"m{i}") for i in range(1, 5)},
            "codeformer.json": {"cf": misc_record("cf")},
        },
    )
    a.files.import_path(ref, IMPORTER)  # version 1: an import
    # Batch 1 on instance A: a create, an update and a delete in one category.
    ids = [
        enqueue(a, "miscellaneous", "x", "create", misc_record("x")),
        enqueue(a, "miscellaneous", "m1", "update", misc_record("m1", "changed")),
        enqueue(a, "miscellaneous", "m2", "delete"),
    ]
    approve(a, ids, "first batch")
    apply(a, ids)
    # Batch 2 on instance B: two categories, one record created in batch 1 updated.
    ids = [
        enqueue(b, "codeformer", "cf2", "create", misc_record("cf2")),
        enqueue(b, "miscellaneous", "x", "update", misc_record("x", "x again")),
    ]
    approve(b, ids, "second batch")
    apply(b, ids)
    # Batch 3 on A: the same record updated, then deleted, in one apply (net: a delete),
    # and a deleted name created again (it goes to the end of the file).
    ids = [
        enqueue(a, "miscellaneous", "m3", "update", misc_record("m3", "short-lived")),
        enqueue(a, "miscellaneous", "m3", "delete"),
        enqueue(a, "miscellaneous", "m2", "create", misc_record("m2", "back")),
    ]
    approve(a, ids, "third batch")
    apply(a, ids, force=True)

    assert [b.feed.manifest(v).source for v in (1, 2, 3, 4)] == [
        "import",
        "apply",
        "apply",
        "apply",
    ]
    for limit in (1, 2, 5, 100):
        state, version, pages = read_feed(b, 0, limit)
        assert version == 4
        bodies = full_read(b)
        assert set(state) == set(bodies)
        for category, body in bodies.items():
            assert dump_v2(state[category]) == body, (limit, category)
        assert pages == {1: 4, 2: 4, 5: 2, 100: 1}[limit]  # whole versions per page
    assert list(json.loads(full_read(a)["miscellaneous"])) == ["m1", "m4", "x", "m2"]
    # A reader that knew version 2 only needs versions 3 and 4.
    page = a.feed.changes(2, 100)
    assert {c["version"] for c in page.changes} == {3, 4} and page.next is None
    assert [(c["operation"], c["model"]) for c in page.changes if c["version"] == 4] == [
        ("delete", "m3"),
        ("create", "m2"),
    ]


def test_each_version_fingerprints_every_category_and_the_audit_head(
    two: tuple[Services, Services], tmp_path: Path
) -> None:
    a, b = two
    ref = write_reference(tmp_path / "ref", {"miscellaneous.json": {"m1": misc_record("m1")}})
    a.files.import_path(ref, IMPORTER)
    cid = enqueue(b, "codeformer", "cf", "create", misc_record("cf"))
    approve(b, [cid], "codeformer arrives")
    apply(b, [cid])
    latest = a.feed.latest()
    assert latest.version == 2 and latest.categories == ["codeformer"]
    assert latest.change_ids == [cid] and latest.title == "codeformer arrives"
    assert [ap.username for ap in latest.approvers] == ["bob#2002"]
    assert latest.actor_username == "carol#3003"
    bodies = full_read(a)
    assert latest.hashes == {c: hashlib.sha256(body).hexdigest() for c, body in bodies.items()}
    last = a.audit.events()[-1]
    assert (latest.audit_event_id, latest.audit_hash) == (last.event_id, last.hash)
    first = a.feed.manifest(1)
    assert first.hashes == {"miscellaneous": latest.hashes["miscellaneous"]}
    assert first.audit_event_id < latest.audit_event_id
    wire = latest.manifest()
    assert wire["categories"]["codeformer"] == {"sha256": latest.hashes["codeformer"]}
    assert wire["audit_head"] == {"event_id": last.event_id, "hash": last.hash}


def test_versions_are_dense_and_monotonic_across_instances(
    two: tuple[Services, Services],
) -> None:
    a, b = two
    work: dict[int, list[int]] = {0: [], 1: []}
    for n, svc in enumerate((a, b)):
        for i in range(4):
            cid = enqueue(svc, "miscellaneous", f"s{n}-{i}", "create", misc_record(f"s{n}-{i}"))
            approve(svc, [cid], f"batch {n}-{i}")
            work[n].append(cid)
    errors: list[BaseException] = []

    def run(svc: Services, ids: list[int]) -> None:
        try:
            for cid in ids:
                apply(svc, [cid])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(svc, work[n])) for n, svc in enumerate((a, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert a.feed.latest_version() == 8
    seen = [a.feed.manifest(v).change_ids for v in range(1, 9)]
    assert sorted(cid for ids in seen for cid in ids) == sorted(work[0] + work[1])
    # Version order is commit order: each version's audit head is after the previous one's.
    heads = [a.feed.manifest(v).audit_event_id for v in range(1, 9)]
    assert heads == sorted(heads) and len(set(heads)) == 8


def test_a_failed_apply_or_an_unchanged_import_makes_no_version(
    two: tuple[Services, Services], tmp_path: Path
) -> None:
    a, _b = two
    ref = write_reference(tmp_path / "ref", {"miscellaneous.json": {"m1": misc_record("m1")}})
    a.files.import_path(ref, IMPORTER)
    a.files.import_path(ref, IMPORTER)  # same content: no write, no version
    assert a.feed.latest_version() == 1
    first = enqueue(a, "miscellaneous", "m1", "update", misc_record("m1", "one"))
    second = enqueue(a, "miscellaneous", "m1", "update", misc_record("m1", "two"))
    approve(a, [first, second])
    apply(a, [first])
    with pytest.raises(ApplyFailed):
        apply(a, [second])  # stale: m1 changed since it was proposed
    assert a.feed.latest_version() == 2
    page = a.feed.changes(1, 100)
    assert [(c["version"], c["model"]) for c in page.changes] == [(2, "m1")]


def test_a_catalog_older_than_versions_gets_a_baseline_version(db_url: str) -> None:
    svc = open_services(db_url)
    with svc.db.write() as tx:  # as if the catalog predated the versions table
        tx.conn.exec_driver_sql("DELETE FROM catalog_releases")
    seed_catalog(svc.db, "miscellaneous", misc_record("old") | {"record_type": "miscellaneous"})
    svc.db.dispose()
    svc = open_services(db_url)  # start-up: the baseline is made once
    again = open_services(db_url)
    try:
        base = svc.feed.latest()
        assert base.version == 1 and base.source == "baseline"
        state, version, _pages = read_feed(again, 0, 10)
        assert version == 1
        assert dump_v2(state["miscellaneous"]) == full_read(again)["miscellaneous"]
    finally:
        svc.db.dispose()
        again.db.dispose()


def test_older_versions_can_be_rebuilt_from_the_live_catalog(
    two: tuple[Services, Services], tmp_path: Path
) -> None:
    a, b = two
    ref = write_reference(
        tmp_path / "ref", {"miscellaneous.json": {f"m{i}": misc_record(f"m{i}") for i in (1, 2)}}
    )
    a.files.import_path(ref, IMPORTER)
    seen = {1: full_read(a)["miscellaneous"]}
    steps: list[list[tuple[str, str, dict[str, Any] | None]]] = [
        [("m3", "create", misc_record("m3"))],
        [("m1", "delete", None), ("m2", "update", misc_record("m2", "new"))],
        [("m1", "create", misc_record("m1", "reborn"))],
    ]
    for n, step in enumerate(steps, start=2):
        ids = [enqueue(a, "miscellaneous", name, op, rec) for name, op, rec in step]
        approve(a, ids, f"step {n}")
        apply(a, ids)
        seen[n] = full_read(a)["miscellaneous"]
    ref2 = write_reference(tmp_path / "ref2", {"miscellaneous.json": {"z": misc_record("z")}})
    a.files.import_path(ref2, IMPORTER)  # version 5 replaces everything
    seen[5] = full_read(a)["miscellaneous"]
    for version, body in seen.items():
        rows = b.feed.state_at(version, ["miscellaneous"])["miscellaneous"]
        assert dump_v2({r.name: r.record for r in rows}) == body, version


def test_bad_feed_requests_name_the_parameter(two: tuple[Services, Services]) -> None:
    a, _b = two
    with pytest.raises(ValidationFailed, match="since"):
        a.feed.changes(-1)
    with pytest.raises(ValidationFailed, match="limit"):
        a.feed.changes(0, 0)
    with pytest.raises(NotFound, match="version 3 does not exist"):
        a.feed.changes(3)
    with pytest.raises(NotFound):
        a.feed.latest()
    with pytest.raises(NotFound):
        a.feed.manifest(1)
    empty = a.feed.changes(0)
    assert (empty.version, empty.changes, empty.next) == (0, [], None)
    assert Category.miscellaneous not in a.catalog.versions()
