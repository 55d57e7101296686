"""Review checks in the reviewer UI, in-process: badges, the findings panel, live progress.

The app runs without its lifespan here, so no background worker runs: the test drives a real
outbox worker itself and watches the pages change, as htmx polling would.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelref.domain.checks import CheckState
from modelref.service.container import Services
from modelref.service.outbox import Worker
from modelref.settings import Settings
from tests.checks.fileserver import Files, Server, closed_port, generated, serving
from tests.factories import ManualClock
from tests.web.ui_client import PEOPLE, Deployment

BLOB = generated(2 * 1024 * 1024, seed=5)
SHA = hashlib.sha256(BLOB).hexdigest()


@pytest.fixture
def files() -> Iterator[Server]:
    with serving(Files(blobs={"m.safetensors": BLOB}, drip_rate=512 * 1024)) as server:
        yield server


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Deployment]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ui.db'}",
        check_allow_hosts="127.0.0.1",
        check_attempts=1,
        outbox_lease_seconds=4,
    )
    services = Services.open(settings, clock=ManualClock())
    keys = {who: services.keys.create(uid, name, role) for who, (uid, name, role) in PEOPLE.items()}
    yield Deployment(services, keys)
    services.db.dispose()


def propose(site: Deployment, name: str, url: str, sha: str = SHA) -> int:
    actor = site.actor("alice")
    entry = {"file_name": f"{name}.safetensors", "file_url": url, "sha256sum": sha}
    return site.services.review.enqueue_change(
        category="miscellaneous",
        model_name=name,
        operation="create",
        payload={"name": name, "config": {"download": [entry]}},
        requestor_id=actor.user_id,
        requestor_username=actor.username,
    ).change_id


def worker(site: Deployment) -> Worker:
    s = site.services
    return Worker(s.db, s.clock, s.handlers, lease_seconds=s.settings.outbox_lease_seconds)


def badge(html: str, change_id: int) -> str:
    match = re.search(
        rf'<span class="check-badge" id="checks-badge-{change_id}".*?</span>\s*</span>', html, re.S
    )
    assert match, f"no checks badge for change {change_id}"
    return match.group(0)


def test_queue_badges_poll_while_checking_and_tell_the_outcome(
    site: Deployment, files: Server
) -> None:
    good = propose(site, "good", files.url("/files/m.safetensors"))
    wrong = propose(site, "wrong", files.url("/files/m.safetensors"), "ef" * 32)
    refused = propose(site, "refused", f"http://127.0.0.1:{closed_port()}/m.bin")
    ui = site.client("bob")
    before = ui.get("/ui/queue").text
    for cid in (good, wrong, refused):
        b = badge(before, cid)
        assert "checking…" in b and f'hx-get="/ui/changes/{cid}/checks/badge"' in b
    while worker(site).run_once():
        pass
    after = ui.get("/ui/queue").text
    assert "b-checked" in badge(after, good) and "hx-get" not in badge(after, good)
    assert "1 error" in badge(after, wrong)
    assert "unchecked" in badge(after, refused) and "b-checked" not in badge(after, refused)
    fragment = ui.get(f"/ui/changes/{wrong}/checks/badge")
    assert fragment.status_code == 200 and "1 error" in fragment.text
    assert "<html" not in fragment.text


def test_the_change_page_shows_the_findings_panel(site: Deployment, files: Server) -> None:
    wrong = propose(site, "wrong", files.url("/files/m.safetensors"), "ef" * 32)
    ui = site.client("dave")  # a reader sees the findings, not the re-run button
    pending = ui.get(f"/ui/changes/{wrong}").text
    assert 'id="checks"' in pending and 'hx-trigger="every 2s"' in pending
    assert "Re-run the checks" not in pending
    worker(site).run_once()
    page = ui.get(f"/ui/changes/{wrong}").text
    panel = page[page.index('<section class="panel checks"') :]
    panel = panel[: panel.index("</section>")]
    assert "hx-get" not in panel  # settled: it stops polling
    assert "config.download.0.sha256sum" in panel and SHA in panel
    assert 'class="badge sev-error"' in panel


def test_the_panel_shows_progress_live_while_a_file_is_hashed(
    site: Deployment, files: Server
) -> None:
    change_id = propose(site, "slowly", files.url("/drip/m.safetensors"))
    ui = site.client("bob")
    thread = threading.Thread(target=worker(site).run_once)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        seen = ""
        while "<progress" not in seen:
            assert time.monotonic() < deadline, seen
            seen = ui.get(f"/ui/changes/{change_id}/checks").text
            time.sleep(0.05)
        assert "running" in seen and 'hx-trigger="every 2s"' in seen
        done = re.search(r'value="(\d+)"', seen)
        assert done and 0 < int(done.group(1)) < len(BLOB)
    finally:
        thread.join(timeout=30)
    final = ui.get(f"/ui/changes/{change_id}/checks").text
    assert "done" in final and "sha256 verified" in final and "<progress" not in final


def test_an_approver_reruns_the_checks_from_the_page(site: Deployment, files: Server) -> None:
    change_id = propose(site, "again", files.url("/files/m.safetensors"))
    worker(site).run_once()
    assert site.services.checks.get(change_id).state is CheckState.done
    ui = site.client("bob")
    page = ui.get(f"/ui/changes/{change_id}").text
    assert "Re-run the checks" in page
    refused = ui.post(f"/ui/changes/{change_id}/checks/rerun", {}, token=False)
    assert refused.status_code == 403
    reply = ui.post(f"/ui/changes/{change_id}/checks/rerun", {}, follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"].endswith("#checks")
    assert site.services.checks.get(change_id).state is CheckState.pending


def test_polled_fragments_answer_204_when_signed_out(site: Deployment, files: Server) -> None:
    change_id = propose(site, "anon", files.url("/files/m.safetensors"))
    ui = site.client()
    assert ui.get(f"/ui/changes/{change_id}/checks").status_code == 204
    assert ui.get(f"/ui/changes/{change_id}/checks/badge").status_code == 204
