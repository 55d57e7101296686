"""Benchmark the catalog and the apply engine on the real AI Horde reference.

Targets (issue 3, "Must reach"):

* importing the whole real reference (shared/data: v2 + legacy)  <= 2 s
* applying a 1,000-change batch (SQLite)                          <= 1 s
* diffing 100 changes                                             <= 50 ms
* ``export --format both`` of the real reference                  <= 1 s

Usage::

    .venv/bin/python benchmarks/apply_and_diff.py [--data ../shared/data] [--repeat 3]
        [--profile]

Each figure is the median of ``--repeat`` runs (a fresh SQLite file per import/apply run).
``--profile`` prints the top functions of one extra run of every step. Exit status 1 if a
target is missed.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelref.domain.actors import Actor
from modelref.domain.categories import Category
from modelref.service.container import Services
from modelref.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
REQUESTER = Actor("1001", "alice#1001")
APPROVER = Actor("2002", "bob#2002")
APPLIER = Actor("3003", "carol#3003")
IMPORTER = Actor("9009", "admin#9009")

TARGETS = {"import": 2.0, "apply_1000": 1.0, "diff_100": 0.050, "export_both": 1.0}


def open_db(work: Path, name: str, publish: Path | None = None) -> Services:
    url = f"sqlite:///{work / name}.db"
    return Services.open(Settings(database_url=url, publish_dir=publish), recover=True)


def misc(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": "benchmark model",
        "config": {
            "download": [
                {
                    "file_name": f"{name}.safetensors",
                    "file_url": f"https://example.invalid/{name}.safetensors",
                    "sha256sum": "0" * 64,
                }
            ]
        },
    }


def queue_1000(svc: Services) -> int:
    """1,000 approved changes on distinct real models: 161 image updates, 339 text updates,
    100 text deletes and 400 creates; returns the batch id."""
    image, _v = svc.catalog.records(Category.image_generation)
    text, _v = svc.catalog.records(Category.text_generation)
    text_names = list(text)
    changes: list[tuple[Category, str, str, dict[str, Any] | None]] = []
    for name, record in image.items():
        changes.append((Category.image_generation, name, "update", {**record, "nsfw": True}))
    for name in text_names[:339]:
        record = copy.deepcopy(text[name])
        record["description"] = "benchmark edit"
        changes.append((Category.text_generation, name, "update", record))
    for name in text_names[339:439]:
        changes.append((Category.text_generation, name, "delete", None))
    for i in range(400):
        changes.append((Category.miscellaneous, f"bench-{i:04d}", "create", misc(f"bench-{i:04d}")))
    assert len(changes) == 1000
    ids = [
        svc.review.enqueue_change(
            category=cat,
            model_name=name,
            operation=op,
            payload=payload,
            requestor_id=REQUESTER.user_id,
            requestor_username=REQUESTER.username,
        ).change_id
        for cat, name, op, payload in changes
    ]
    result = svc.review.process_batch(
        approver_id=APPROVER.user_id,
        approver_username=APPROVER.username,
        batch_title="benchmark",
        approved_ids=ids,
        rejected_ids=None,
    )
    assert result.batch_id is not None
    return result.batch_id


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def profile(label: str, fn: Callable[[], Any]) -> None:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    print(f"\n--- profile: {label} (top 15 by cumulative time) ---")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(15)


class Bench:
    def __init__(self, data: Path, work: Path) -> None:
        self.data = data
        self.work = work
        self.runs = 0

    def fresh(self, publish: Path | None = None) -> Services:
        self.runs += 1
        return open_db(self.work, f"run{self.runs}", publish)

    # Each step returns (seconds, detail) for one run.
    def import_all(self, prof: bool = False) -> tuple[float, str]:
        svc = self.fresh()
        call = lambda: svc.files.import_path(self.data, IMPORTER)  # noqa: E731
        if prof:
            profile("import", call)
            return 0.0, ""
        seconds = timed(call)
        total = sum(len(svc.catalog.records(c)[0]) for c in Category)
        svc.db.dispose()
        return seconds, f"{total} records"

    def apply_1000(self, prof: bool = False, publish: bool = False) -> tuple[float, str]:
        out = self.work / f"publish{self.runs}" if publish else None
        svc = self.fresh(out)
        svc.files.import_path(self.data, IMPORTER)
        batch = queue_1000(svc)
        call = lambda: svc.apply.apply_batch(batch, APPLIER.user_id, APPLIER.username)  # noqa: E731
        if prof:
            profile("apply_batch (1,000 changes)", call)
            return 0.0, ""
        seconds = timed(call)
        applied = sum(1 for r in svc.review.list_changes().items if r.status.value == "applied")
        assert applied == 1000, applied
        svc.db.dispose()
        return seconds, "1000 applied" + (" + published" if publish else "")

    def diff_100(self, repeat: int, prof: bool = False) -> list[float]:
        svc = self.fresh()
        svc.files.import_path(self.data, IMPORTER)
        batch = queue_1000(svc)
        ids = [r.change_id for r in svc.review.list_changes().items if r.batch_id == batch]
        sample = ids[::10]  # 100 changes: image and text updates, deletes, creates
        assert len(sample) == 100
        if prof:
            profile("diffs (100 changes)", lambda: svc.catalog.diffs(sample))
            return []
        svc.catalog.diffs(sample)  # warm caches (compiled SQL)
        times = [timed(lambda: svc.catalog.diffs(sample)) for _ in range(repeat)]
        page = svc.catalog.diffs(sample)
        assert not page.errors and len(page.diffs) == 100
        svc.db.dispose()
        return times

    def export_both(self, repeat: int, prof: bool = False) -> list[float]:
        svc = self.fresh()
        svc.files.import_path(self.data, IMPORTER)
        out = self.work / "export"
        if prof:
            profile("export both", lambda: svc.files.export(out, "both"))
            return []
        times = []
        for _ in range(repeat):
            shutil.rmtree(out, ignore_errors=True)
            times.append(timed(lambda: svc.files.export(out, "both")))
        svc.db.dispose()
        return times


def report(label: str, key: str, times: list[float], detail: str = "") -> bool:
    median = statistics.median(times)
    ok = median <= TARGETS[key]
    spread = f"min {min(times) * 1000:.0f} / max {max(times) * 1000:.0f} ms"
    target = TARGETS[key] * 1000
    print(
        f"{'PASS' if ok else 'FAIL'}  {label:<38} {median * 1000:8.1f} ms"
        f"  (target <= {target:.0f} ms; {spread}) {detail}"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if not (args.data / "v2").is_dir():
        print(f"real reference data not found under {args.data}", file=sys.stderr)
        return 2
    engine = "SQLite (file, WAL, synchronous=FULL)"
    print(f"modelref benchmark on {engine}, data {args.data}, median of {args.repeat}\n")
    with tempfile.TemporaryDirectory(prefix="modelref-bench-") as tmp:
        bench = Bench(args.data, Path(tmp))
        results = []
        runs = [bench.import_all() for _ in range(args.repeat)]
        results.append(report("import whole reference", "import", [r[0] for r in runs], runs[0][1]))
        runs = [bench.apply_1000() for _ in range(args.repeat)]
        results.append(report("apply_batch 1,000 changes", "apply_1000", [r[0] for r in runs]))
        runs = [bench.apply_1000(publish=True) for _ in range(args.repeat)]
        print(
            f"info  {'  ... including publish of 3 categories':<38} "
            f"{statistics.median(r[0] for r in runs) * 1000:8.1f} ms"
        )
        results.append(report("diffs of 100 changes", "diff_100", bench.diff_100(args.repeat)))
        results.append(
            report("export --format both", "export_both", bench.export_both(args.repeat))
        )
        if args.profile:
            bench.import_all(prof=True)
            bench.apply_1000(prof=True)
            bench.diff_100(1, prof=True)
            bench.export_both(1, prof=True)
    print("\nall targets met" if all(results) else "\nsome targets MISSED")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
