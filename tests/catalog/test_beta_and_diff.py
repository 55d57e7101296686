"""The beta view (spec queue-semantics §11) and reviewer diffs (§9 + pinned bases), on the
corpus (and on every public reference record in the real-reference tier).

Beta: pending+approved create/update payloads per model, the greatest (updated_at, change_id)
wins, never deletes, rejected, withdrawn, applying or applied changes. Diffs: dotted field
paths, per-category critical flags, is_stale/conflicts, delete diffs that list the removed
fields, and diff pages that report unknown ids in ``errors`` while diffing the rest.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelref.domain.categories import Category
from modelref.domain.errors import NotFound
from modelref.service.container import Services
from tests.catalog.helpers import (
    APPLIER,
    APPROVER,
    IMPORTER,
    REQUESTER,
    apply,
    approve,
    enqueue,
    misc_record,
    open_services,
)
from tests.conftest import is_reference
from tests.corpus import V2_COUNTS

IMAGE = Category.image_generation
TEXT = Category.text_generation
MISC = Category.miscellaneous


class Clock:
    """A controllable queue clock: ``updated_at`` only has one-second resolution."""

    def __init__(self) -> None:
        self.now = 1_800_000_000

    def __call__(self) -> int:
        return self.now

    def tick(self, seconds: int = 10) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def svc(sqlite_url: str, corpus_dir: Path, clock: Clock) -> Iterator[Services]:
    services = open_services(sqlite_url, clock=clock)
    services.files.import_path(corpus_dir / "v2", IMPORTER)
    yield services
    services.db.dispose()


def edited(svc: Services, category: Category, name: str, **changes: Any) -> dict[str, Any]:
    record = copy.deepcopy(svc.catalog.record(category, name))
    record.update(changes)
    return record


def reject(svc: Services, ids: list[int]) -> None:
    svc.review.process_batch(
        approver_id=APPROVER.user_id,
        approver_username=APPROVER.username,
        batch_title="no",
        approved_ids=None,
        rejected_ids=ids,
        reject_reason="not wanted",
    )


def leaf_paths(record: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in record.items():
        if isinstance(value, dict) and value:
            out.extend(leaf_paths(value, f"{prefix}{key}."))
        else:
            out.append(f"{prefix}{key}")
    return out


# ---------------------------------------------------------------------- beta view


def test_beta_shows_pending_and_approved_creates_and_updates_only(
    svc: Services, clock: Clock
) -> None:
    new = enqueue(svc, MISC, "beta-new", "create", misc_record("beta-new"))
    clock.tick()
    upd = enqueue(
        svc, IMAGE, "Lantern Anime", "update", edited(svc, IMAGE, "Lantern Anime", nsfw=True)
    )
    clock.tick()
    enqueue(svc, IMAGE, "Saffron Realism", "delete")
    clock.tick()
    approve(svc, [upd])

    image_beta = svc.catalog.beta_view(IMAGE)
    assert list(image_beta) == ["Lantern Anime"]  # the delete never shows
    assert image_beta["Lantern Anime"] == svc.review.get_change(upd).payload
    assert image_beta["Lantern Anime"]["nsfw"] is True
    assert svc.catalog.beta_view(MISC) == {"beta-new": svc.review.get_change(new).payload}
    assert svc.catalog.beta_view(TEXT) == {}
    assert svc.catalog.beta_view(Category.lora) == {}


def test_beta_latest_updated_at_then_change_id_wins(svc: Services, clock: Clock) -> None:
    def proposal(text: str) -> dict[str, Any]:
        return edited(svc, IMAGE, "Lantern Anime", description=text)

    def beta_description() -> str | None:
        entry = svc.catalog.beta_view(IMAGE).get("Lantern Anime")
        return None if entry is None else str(entry["description"])

    first = enqueue(svc, IMAGE, "Lantern Anime", "update", proposal("first"))
    clock.tick()
    second = enqueue(svc, IMAGE, "Lantern Anime", "update", proposal("second"))
    assert beta_description() == "second"

    clock.tick()
    approve(svc, [first])  # approving the older change makes it the newest
    assert beta_description() == "first"

    clock.tick()
    third = enqueue(svc, IMAGE, "Lantern Anime", "update", proposal("third"))
    fourth = enqueue(svc, IMAGE, "Lantern Anime", "update", proposal("fourth"))
    assert svc.review.get_change(third).updated_at == svc.review.get_change(fourth).updated_at
    assert beta_description() == "fourth"  # same second: the higher change id wins

    clock.tick()
    reject(svc, [fourth])
    assert beta_description() == "third"  # rejected never shows

    clock.tick()
    svc.review.withdraw_change(
        change_id=third, requestor_id=REQUESTER.user_id, requestor_username=REQUESTER.username
    )
    assert beta_description() == "first"  # withdrawn never shows

    clock.tick()
    svc.reservations.reserve_for_apply(first, "job-beta", actor=APPLIER)
    assert beta_description() == "second"  # applying is not open

    apply(svc, [first], job_id="job-beta")
    assert beta_description() == "second"  # nor is applied
    assert svc.catalog.record(IMAGE, "Lantern Anime")["description"] == "first"
    reject(svc, [second])
    assert beta_description() is None


# ---------------------------------------------------------------------- diffs


def test_unchanged_update_of_an_image_record_is_not_a_change(svc: Services) -> None:
    """Re-proposing a live record as-is shows nothing, even though the stored v2 image file
    omits defaults (record_type, metadata, inpainting...) that a validated payload carries."""
    cid = enqueue(svc, IMAGE, "Lantern Anime", "update", edited(svc, IMAGE, "Lantern Anime"))
    diff = svc.catalog.diff(cid)
    assert diff.field_diffs == []
    assert diff.net_operation == "unchanged"
    assert not diff.is_critical


def test_description_only_update_of_an_image_record_is_not_critical(svc: Services) -> None:
    cid = enqueue(
        svc,
        IMAGE,
        "Lantern Anime",
        "update",
        edited(svc, IMAGE, "Lantern Anime", description="new"),
    )
    diff = svc.catalog.diff(cid)
    assert diff.fields_modified == ["description"]
    assert diff.fields_added == [] and diff.fields_removed == []
    assert not diff.is_critical
    assert diff.net_operation == "modified"


@pytest.mark.parametrize(
    ("category", "name", "changes", "paths", "critical"),
    [
        (IMAGE, "Lantern Anime", {"nsfw": True}, ["nsfw"], True),
        (IMAGE, "Lantern Anime", {"homepage": "https://example.invalid/h"}, ["homepage"], True),
        (IMAGE, "Lantern Anime", {"trigger": ["lantern"]}, ["trigger"], True),
        (IMAGE, "Lantern Anime", {"baseline": "stable_diffusion_xl"}, ["baseline"], True),
        (IMAGE, "Lantern Anime", {"style": "realistic"}, ["style"], False),
        (IMAGE, "Lantern Anime", {"tags": ["anime"]}, ["tags"], False),
        (
            IMAGE,
            "Harbor XL",
            {"requirements": {"clip_skip": 1}},
            ["requirements.clip_skip"],
            False,
        ),
        (TEXT, "Quillworks/Parchment-3B-V2", {"url": "https://example.invalid/m"}, ["url"], True),
        (TEXT, "Quillworks/Parchment-3B-V2", {"parameters": 4000000000}, ["parameters"], True),
        (TEXT, "Quillworks/Parchment-3B-V2", {"description": "d"}, ["description"], False),
        (
            TEXT,
            "Quillworks/Parchment-3B-V2",
            {"settings": {"temperature": 0.5, "top_p": 0.9, "top_k": 40, "rep_pen": 1.1}},
            ["settings.temperature"],
            False,
        ),
        (MISC, "layer_corpus_xl", {"description": "d"}, ["description"], False),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_dotted_paths_and_critical_flags(
    svc: Services,
    category: Category,
    name: str,
    changes: dict[str, Any],
    paths: list[str],
    critical: bool,
) -> None:
    if name not in svc.catalog.records(category)[0]:
        name = next(iter(svc.catalog.records(category)[0]))
    cid = enqueue(svc, category, name, "update", edited(svc, category, name, **changes))
    diff = svc.catalog.diff(cid)
    assert [d["field_path"] for d in diff.field_diffs] == paths
    assert all(d["change_type"] == "modified" for d in diff.field_diffs)
    assert diff.is_critical is critical


def test_download_change_is_critical_in_every_category(svc: Services) -> None:
    """modelref improvement (W22): a new URL or hash changes what every worker runs."""
    name = next(iter(svc.catalog.records(MISC)[0]))
    record = edited(svc, MISC, name)
    record["config"]["download"][0]["file_url"] = "https://example.invalid/other.bin"
    diff = svc.catalog.diff(enqueue(svc, MISC, name, "update", record))
    assert diff.fields_modified == ["config.download"]
    assert diff.is_critical


def test_create_diff_lists_every_field_added(svc: Services) -> None:
    payload = misc_record("brand-new")
    cid = enqueue(svc, MISC, "brand-new", "create", payload)
    diff = svc.catalog.diff(cid)
    stored = svc.review.get_change(cid).payload
    assert stored is not None
    assert diff.net_operation == "added" and diff.current_state is None
    assert diff.fields_added == leaf_paths(stored)
    assert "metadata.schema_version" in diff.fields_added
    assert "model_classification.domain" in diff.fields_added


def test_delete_diff_lists_every_removed_field(svc: Services) -> None:
    name = "Quillworks/Archivist-65b"
    live = svc.catalog.record(TEXT, name)
    cid = enqueue(svc, TEXT, name, "delete")
    diff = svc.catalog.diff(cid)
    assert diff.net_operation == "deleted"
    assert diff.proposed_state is None
    assert diff.current_state == live
    assert diff.fields_removed == leaf_paths(live)
    assert diff.fields_added == [] and diff.fields_modified == []
    assert {"parameters", "url", "metadata.schema_version"} <= set(diff.fields_removed)
    assert all(d["new_value"] is None for d in diff.field_diffs)
    assert diff.is_critical  # removing a model removes its critical fields


def test_stale_and_conflicts_follow_the_live_record(svc: Services) -> None:
    a = enqueue(
        svc, IMAGE, "Lantern Anime", "update", edited(svc, IMAGE, "Lantern Anime", nsfw=True)
    )
    b = enqueue(
        svc, IMAGE, "Lantern Anime", "update", edited(svc, IMAGE, "Lantern Anime", version="9")
    )
    c = enqueue(svc, IMAGE, "Lantern Anime", "delete")
    other = enqueue(svc, IMAGE, "Saffron Realism", "delete")
    creates = [
        enqueue(svc, MISC, "twin", "create", misc_record("twin", f"copy {i}")) for i in range(2)
    ]

    page = svc.catalog.diffs([a, b, c, other, *creates])
    by_id = {d.change_id: d for d in page.diffs}
    assert by_id[a].conflicts == [b, c] and by_id[b].conflicts == [a, c]
    assert by_id[c].conflicts == [a, b] and by_id[other].conflicts == []
    assert by_id[creates[0]].conflicts == [creates[1]]
    assert not any(d.is_stale for d in page.diffs)

    reject(svc, [c])
    approve(svc, [a, b, creates[0]])
    apply(svc, [a])
    apply(svc, [creates[0]])

    page = svc.catalog.diffs([a, b, c, other, *creates])
    by_id = {d.change_id: d for d in page.diffs}
    assert by_id[b].is_stale and by_id[b].conflicts == []  # a is applied, c rejected
    current = by_id[b].current_state
    assert current is not None and current["nsfw"] is True
    assert by_id[creates[1]].is_stale  # its model was created meanwhile
    assert by_id[creates[1]].net_operation == "modified"
    assert not by_id[a].is_stale  # applied changes are history, never stale
    assert not by_id[c].is_stale  # nor are rejected ones
    assert not by_id[other].is_stale


def test_diff_page_reports_unknown_ids_and_diffs_the_rest(svc: Services) -> None:
    a = enqueue(svc, MISC, "p-a", "create", misc_record("p-a"))
    b = enqueue(
        svc, IMAGE, "Lantern Anime", "update", edited(svc, IMAGE, "Lantern Anime", nsfw=True)
    )

    page = svc.catalog.diffs([b, 999, a, b, 1000])

    assert page.total == 5
    assert [d.change_id for d in page.diffs] == [b, a, b]
    assert page.errors == [
        {"change_id": 999, "error": "Change not found", "error_type": "NotFound"},
        {"change_id": 1000, "error": "Change not found", "error_type": "NotFound"},
    ]
    with pytest.raises(NotFound):
        svc.catalog.diff(999)
    assert svc.catalog.diffs([]).total == 0


#: Records whose key differs from their ``name`` (kept as-is by upstream's converter).
KEY_NOT_NAME = {
    (Category.controlnet, "control_swirl_sdxl"),
    (Category.controlnet, "control_qr_sdxl"),
}


def test_every_record_reproposed_unchanged_diffs_as_unchanged(
    sqlite_url: str, data_dir: Path
) -> None:
    """Every record (all 913 of the public reference): an update carrying the live record shows
    no change at all."""
    svc = open_services(sqlite_url)
    try:
        svc.files.import_path(data_dir / "v2", IMPORTER)
        _reproposed_unchanged(svc, 913 if is_reference(data_dir) else sum(V2_COUNTS.values()))
    finally:
        svc.db.dispose()


def _reproposed_unchanged(svc: Services, records: int) -> None:
    ids: dict[int, tuple[Category, str]] = {}
    for category in Category:
        for name, record in svc.catalog.records(category)[0].items():
            if (category, name) in KEY_NOT_NAME:
                continue
            ids[enqueue(svc, category, name, "update", copy.deepcopy(record))] = (category, name)
    assert len(ids) == records - 1  # one key differs from its name in both data sets

    page = svc.catalog.diffs(list(ids))

    assert page.errors == []
    noisy = {ids[d.change_id]: d.field_diffs for d in page.diffs if d.field_diffs}
    assert noisy == {}
    assert {d.net_operation for d in page.diffs} == {"unchanged"}
    assert not any(d.is_critical for d in page.diffs)


def test_record_whose_key_differs_from_its_name_can_be_updated(svc: Services) -> None:
    record = edited(svc, Category.controlnet, "control_swirl_sdxl", description="new text")
    cid = enqueue(svc, Category.controlnet, "control_swirl_sdxl", "update", record)
    assert svc.catalog.diff(cid).fields_modified == ["description"]
