"""After-commit effects reach every edge: an apply from the reviewer UI is served at once.

The read cache of a serving process is refreshed by a commit listener the container wires on
the database, not by the API's apply route, so the UI (and the CLI or library in the same
process) gets it too. The version check interval is an hour here: only the listener can make
the new record visible.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modelref.api.app import create_app
from modelref.service.container import Services
from modelref.settings import Settings
from tests.factories import misc_payload, seed_catalog
from tests.web.ui_client import PEOPLE, UI

MISC = "/api/model_references/v2/miscellaneous"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}", cache_interval=3600)
    services = Services.open(settings)
    yield services
    services.db.dispose()


def test_an_apply_through_the_ui_is_served_by_the_same_process_at_once(
    services: Services,
) -> None:
    seed_catalog(services.db, "miscellaneous", misc_payload("already-live"))
    keys = {who: services.keys.create(uid, name, role) for who, (uid, name, role) in PEOPLE.items()}
    app = create_app(services)
    reader = TestClient(app)
    assert set(reader.get(MISC).json()) == {"already-live"}  # cached now, for an hour

    change = services.review.enqueue_change(
        category="miscellaneous",
        model_name="through-the-ui",
        operation="create",
        payload=misc_payload("through-the-ui"),
        requestor_id=PEOPLE["alice"][0],
        requestor_username=PEOPLE["alice"][1],
    )
    batch = services.review.process_batch(
        approver_id=PEOPLE["bob"][0],
        approver_username=PEOPLE["bob"][1],
        batch_title="ui apply",
        approved_ids=[change.change_id],
        rejected_ids=None,
    )
    ui = UI(TestClient(app))
    ui.sign_in(keys["carol"])
    ui.get(f"/ui/batches/{batch.batch_id}")
    reply = ui.post(f"/ui/batches/{batch.batch_id}/apply", {}, follow_redirects=False)
    assert reply.status_code == 303, reply.text[:300]

    assert set(reader.get(MISC).json()) == {"already-live", "through-the-ui"}
    one = reader.get(f"{MISC}/model/through-the-ui")
    assert one.status_code == 200 and one.json()["name"] == "through-the-ui"


def test_a_library_apply_republishes_files_through_the_same_listener(tmp_path: Path) -> None:
    from modelref.service.queue import PendingQueueService

    publish = tmp_path / "published"
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    queue = PendingQueueService.from_url(url, Settings(publish_dir=publish))
    change = queue.enqueue_change(
        category="miscellaneous",
        model_name="from-the-library",
        operation="create",
        payload=misc_payload("from-the-library"),
        requestor_id="1",
        requestor_username="a#1",
    )
    queue.process_batch(
        approver_id="2",
        approver_username="b#2",
        batch_title="lib",
        approved_ids=[change.change_id],
        rejected_ids=None,
    )
    queue.apply_changes([change.change_id], "3", "c#3")
    published = (publish / "v2" / "miscellaneous.json").read_text(encoding="utf-8")
    assert '"from-the-library"' in published
    assert (publish / ".miscellaneous.version").read_text().strip() == "1"
    queue.db.dispose()
