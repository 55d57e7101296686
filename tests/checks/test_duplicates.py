"""Duplicate and identity findings at enqueue, on records written here and on the real catalog.

They are computed in the enqueue transaction (no worker runs in these tests) and are warnings.
The real-reference cases need ``MODELREF_REFERENCE_DIR`` (the shared data folder) and are
skipped without it; the others run on a fresh clone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelref.domain.actors import Actor
from modelref.domain.checks import Finding, Severity
from tests.checks.conftest import Deployment, record
from tests.factories import ALICE, BOB, CAROL, seed_catalog

Deploy = Callable[..., Deployment]
SHA = "9f" * 32
URL = "https://files.example.org/models/original.safetensors"


def identity(d: Deployment, change_id: int) -> list[Finding]:
    return [f for f in d.checks(change_id).findings if f.check not in ("url", "checker")]


def text_record(name: str) -> dict[str, Any]:
    return {"name": name, "parameters": 7_000_000_000, "config": {"download": []}}


def propose_text(d: Deployment, name: str) -> int:
    change = d.services.review.enqueue_change(
        category="text_generation",
        model_name=name,
        operation="create",
        payload=text_record(name),
        requestor_id=ALICE[0],
        requestor_username=ALICE[1],
    )
    return change.change_id


def test_the_same_sha256_under_a_new_name_is_a_warning(deploy: Deploy) -> None:
    d = deploy()
    seed_catalog(d.services.db, "miscellaneous", record("original", URL, SHA))
    copy = d.propose(record("renamed_copy", "https://mirror.example.net/c.bin", SHA.upper()))
    (dup,) = identity(d, copy)
    assert dup.check == "duplicate_sha256" and dup.severity is Severity.warning
    assert dup.field == "config.download.0.sha256sum"
    assert "live model miscellaneous/'original'" in dup.message


def test_the_same_url_is_a_warning_whatever_the_host_case_or_default_port(
    deploy: Deploy,
) -> None:
    d = deploy()
    seed_catalog(d.services.db, "miscellaneous", record("original", URL, SHA))
    spelled = "HTTPS://Files.Example.ORG:443/models/original.safetensors#frag"
    (dup,) = identity(d, d.propose(record("other", spelled, "ab" * 32)))
    assert dup.check == "duplicate_url" and dup.field == "config.download.0.file_url"
    assert "live model miscellaneous/'original'" in dup.message


def test_open_changes_count_until_they_are_closed(deploy: Deploy) -> None:
    d = deploy()
    first = d.propose(record("first", URL, SHA))
    second = d.propose(record("second", URL, SHA))
    found = {f.check: f.message for f in identity(d, second)}
    assert set(found) == {"duplicate_sha256", "duplicate_url"}
    assert f"open change #{first} (miscellaneous/'first')" in found["duplicate_sha256"]
    d.services.review.process_batch(
        approver_id=BOB[0],
        approver_username=BOB[1],
        batch_title="no",
        approved_ids=None,
        rejected_ids=[first, second],
        reject_reason="duplicates",
    )
    assert identity(d, d.propose(record("third", URL, SHA))) == []


def test_a_key_many_models_hold_names_the_first_and_counts_the_rest(deploy: Deploy) -> None:
    d = deploy()
    seed_catalog(d.services.db, "miscellaneous", record("original", URL, SHA))
    ids = [d.propose(record(f"copy{n}", f"https://x.example/{n}.bin", SHA)) for n in range(5)]
    (few,) = identity(d, ids[-1])  # the live model and four open changes before it
    assert few.message.endswith(f"open change #{ids[1]} (miscellaneous/'copy1') and 2 more")
    assert "live model miscellaneous/'original'" in few.message
    ids += [d.propose(record(f"copy{n}", f"https://x.example/{n}.bin", SHA)) for n in range(5, 40)]
    (many,) = identity(d, ids[-1])  # 40 hold it: the lookup stops, the message says so
    assert "live model miscellaneous/'original'" in many.message
    assert f"#{ids[0]} " in many.message and f"#{ids[1]} " in many.message
    assert many.message.endswith(" and at least 5 more")


def test_a_model_never_duplicates_itself(deploy: Deploy) -> None:
    d = deploy()
    seed_catalog(d.services.db, "miscellaneous", record("same", URL, SHA))
    update = d.propose(record("same", URL, SHA) | {"description": "edited"}, "update")
    assert identity(d, update) == []


def test_names_equal_but_for_case_whitespace_or_a_backend_prefix(deploy: Deploy) -> None:
    d = deploy()
    seed_catalog(d.services.db, "miscellaneous", record("Deliberate", URL, SHA))
    for n, name in enumerate(("deliberate", "Deli berate", "aphrodite/DELIBERATE")):
        change = d.propose(record(name, f"https://x.example/{n}.bin", f"{n + 1}" * 63 + "a"))
        (similar,) = identity(d, change)
        assert similar.check == "similar_name" and similar.field == "name", name
        assert "live model miscellaneous/'Deliberate'" in similar.message


def test_text_author_case_and_generated_name_collisions(deploy: Deploy) -> None:
    d = deploy()
    seed_catalog(d.services.db, "text_generation", text_record("TheBloke/Foo-7B"))
    author = {f.check: f for f in identity(d, propose_text(d, "thebloke/Bar-13B"))}
    assert set(author) == {"author_case"}
    assert "'thebloke' differs only in case from 'TheBloke'" in author["author_case"].message
    variant = {f.check: f for f in identity(d, propose_text(d, "Other/Foo-7B"))}
    assert set(variant) == {"variant_collision"}
    assert "'koboldcpp/Foo-7B'" in variant["variant_collision"].message
    assert identity(d, propose_text(d, "Someone/Baz-7B")) == []


def test_the_live_index_follows_catalog_writes(deploy: Deploy) -> None:
    d = deploy()
    seed_catalog(d.services.db, "miscellaneous", record("original", URL, SHA))
    assert identity(d, d.propose(record("copy_one", "https://a.example/1.bin", SHA)))
    delete = d.services.review.enqueue_change(
        category="miscellaneous",
        model_name="original",
        operation="delete",
        payload=None,
        requestor_id=ALICE[0],
        requestor_username=ALICE[1],
    )
    d.services.review.process_batch(
        approver_id=BOB[0],
        approver_username=BOB[1],
        batch_title="clean up",
        approved_ids=[delete.change_id],
        rejected_ids=[1],
        reject_reason="copy",
    )
    d.services.apply.apply_changes([delete.change_id], CAROL[0], CAROL[1])
    assert identity(d, d.propose(record("copy_two", "https://a.example/2.bin", SHA))) == []


# ---------------------------------------------------------------------- real reference tier
def test_real_records_a_real_model_file_under_a_new_name(
    deploy: Deploy, reference_dir: Path
) -> None:
    data = reference_dir
    d = deploy()
    d.services.files.import_path(data / "v2", Actor("0", "importer"))
    real = json.loads((data / "v2" / "stable_diffusion.json").read_text(encoding="utf-8"))
    name, original = next(
        (n, r) for n, r in real.items() if len(r["config"]["download"]) == 1 and r.get("baseline")
    )
    copy = {**original, "name": f"{name} reupload"}
    change = d.services.review.enqueue_change(
        category="image_generation",
        model_name=copy["name"],
        operation="create",
        payload=copy,
        requestor_id=ALICE[0],
        requestor_username=ALICE[1],
    )
    found = {f.check: f for f in identity(d, change.change_id)}
    assert {"duplicate_sha256", "duplicate_url"} <= set(found)
    assert f"live model image_generation/{name!r}" in found["duplicate_sha256"].message
    assert all(f.severity is Severity.warning for f in found.values())


def test_real_records_text_author_spelled_in_another_case(
    deploy: Deploy, reference_dir: Path
) -> None:
    data = reference_dir
    d = deploy()
    d.services.files.import_path(data / "v2", Actor("0", "importer"))
    real = json.loads((data / "v2" / "text_generation.json").read_text(encoding="utf-8"))
    author = next(
        n.split("/")[0] for n in real if "/" in n and n.split("/")[0] != n.split("/")[0].lower()
    )
    finding = {f.check: f for f in identity(d, propose_text(d, f"{author.lower()}/Brand-New-7B"))}
    assert "author_case" in finding and repr(author) in finding["author_case"].message
