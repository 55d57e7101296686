"""The UI pages in-process (no browser): roles, CSRF, sign-in, sizes, labels, apply, history."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelref.domain.categories import Category
from tests.web.ui_client import Deployment, deploy, unlabeled_controls

MAX_HTML = 200_000


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployment = deploy(tmp_path_factory.mktemp("ui-pages"))
    yield deployment
    deployment.services.db.dispose()


def edit(site: Deployment, name: str, who: str = "alice", **fields: Any) -> int:
    """Queue an update of an image model through the service (the requester is ``who``)."""
    record = dict(site.services.catalog.record(Category.image_generation, name))
    record.update(fields)
    actor = site.actor(who)
    return site.services.review.enqueue_change(
        category="image_generation",
        model_name=name,
        operation="update",
        payload=record,
        requestor_id=actor.user_id,
        requestor_username=actor.username,
        notes="test edit",
    ).change_id


def status(site: Deployment, change_id: int) -> str:
    return str(site.services.review.get_change(change_id).status.value)


def test_signed_out_pages_redirect_to_sign_in(site: Deployment) -> None:
    ui = site.client()
    reply = ui.get("/ui/queue?status=all", follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/ui/login?next=%2Fui%2Fqueue%3Fstatus%3Dall"


def test_wrong_key_is_an_inline_error_without_a_session(site: Deployment) -> None:
    ui = site.client()
    ui.get("/ui/login")
    reply = ui.post("/ui/login", {"apikey": "mr_nope"})
    assert 'id="apikey-error"' in reply.text and "not valid" in reply.text
    assert "modelref_session" not in ui.http.cookies


def test_sign_in_needs_the_csrf_token_and_sets_a_strict_httponly_cookie(site: Deployment) -> None:
    ui = site.client()
    ui.get("/ui/login")
    refused = ui.post("/ui/login", {"apikey": site.keys["bob"]}, token=False)
    assert refused.status_code == 403
    assert "modelref_session" not in ui.http.cookies
    ui.get("/ui/login")
    reply = ui.post("/ui/login", {"apikey": site.keys["bob"]}, follow_redirects=False)
    cookie = reply.headers["set-cookie"].lower()
    for part in ("modelref_session=", "httponly", "samesite=strict", "path=/ui"):
        assert part in cookie


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/api/x"])
def test_sign_in_never_redirects_off_the_ui(site: Deployment, target: str) -> None:
    ui = site.client()
    ui.get("/ui/login")
    reply = ui.post(
        "/ui/login", {"apikey": site.keys["bob"], "next": target}, follow_redirects=False
    )
    assert reply.headers["location"] == "/ui/queue"


def test_a_forged_session_cookie_is_not_a_session(site: Deployment) -> None:
    ui = site.client("bob")
    token = ui.http.cookies["modelref_session"]
    payload, mac = token.split(".")
    (cookie,) = (c for c in ui.http.cookies.jar if c.name == "modelref_session")
    ui.http.cookies.set(
        "modelref_session", payload + "." + mac[:-2] + "AA", domain=cookie.domain, path="/ui"
    )  # replaces the valid cookie (same name, domain and path)
    assert ui.http.cookies["modelref_session"].endswith("AA")
    assert ui.get("/ui/queue", follow_redirects=False).status_code == 303


def test_sign_out_clears_the_cookie(site: Deployment) -> None:
    ui = site.client("bob")
    ui.get("/ui/queue")
    reply = ui.post("/ui/logout", {})
    assert "You are signed out" in reply.text
    assert ui.get("/ui/queue", follow_redirects=False).status_code == 303


def test_role_decides_which_buttons_exist(site: Deployment) -> None:
    change_id = edit(site, "Ember Portrait", description="roles")
    pages = {who: site.client(who) for who in ("dave", "alice", "bob")}
    record = "/ui/catalog/image_generation/Ember%20Portrait"
    reader, requestor, approver = (pages[w] for w in ("dave", "alice", "bob"))
    for ui in (reader, requestor):
        for url in ("/ui/queue", f"/ui/changes/{change_id}"):
            assert "Approve selected" not in ui.get(url).text
    assert "Approve selected" in approver.get("/ui/queue").text
    assert "Approve selected" in approver.get(f"/ui/changes/{change_id}").text
    assert "Propose this edit" not in reader.get(record).text
    assert "Propose this edit" in requestor.get(record).text
    assert "Withdraw my change" in requestor.get(f"/ui/changes/{change_id}").text
    assert "Withdraw my change" not in approver.get(f"/ui/changes/{change_id}").text
    # A reader who posts anyway is refused and nothing is queued.
    reader.get(record)
    before = site.services.review.list_changes().total
    reply = reader.post(record, {"operation": "update", "payload": "{}"})
    assert "requestor role" in reply.text
    assert site.services.review.list_changes().total == before


def test_post_without_a_session_changes_nothing(site: Deployment) -> None:
    change_id = edit(site, "Glacier Landscape", description="no session")
    ui = site.client()
    ui.get("/ui/login")
    form = {"change_ids": change_id, "decision": "approve", "batch_title": "x"}
    ui.post("/ui/review", form)
    assert status(site, change_id) == "pending"


def test_invalid_json_is_an_inline_error_keeping_the_text(site: Deployment) -> None:
    ui = site.client("alice")
    url = "/ui/catalog/image_generation/Bramble%20Creatures"
    ui.get(url)
    before = site.services.review.list_changes().total
    reply = ui.post(
        url, {"operation": "update", "payload": '{"name": "Bramble Creatures",', "notes": "n"}
    )
    assert 'id="payload-error"' in reply.text and "not valid JSON" in reply.text
    assert "{&#34;name&#34;: &#34;Bramble Creatures&#34;," in reply.text
    assert site.services.review.list_changes().total == before


def test_withdrawing_someone_elses_change_is_refused(site: Deployment) -> None:
    change_id = edit(site, "Velvet Comic", description="not yours")
    ui = site.client("bob")
    ui.get(f"/ui/changes/{change_id}")
    reply = ui.post(f"/ui/changes/{change_id}/withdraw", {})
    assert reply.status_code == 403 and "only its requester" in reply.text
    assert status(site, change_id) == "pending"


def test_apply_failure_names_the_failing_change_and_applies_nothing(site: Deployment) -> None:
    first = edit(site, "Tidewater Card", description="first edit")
    second = edit(site, "Tidewater Card", who="carol", description="second edit")
    bob = site.client("bob")
    bob.get(f"/ui/changes/{first}")
    assert "#" + str(second) in bob.last  # conflicts link to each other
    bob.get("/ui/queue")
    bob.post(
        "/ui/review",
        {"change_ids": [first, second], "decision": "approve", "batch_title": "two edits"},
    )
    batch = int(re.search(r"/ui/batches/(\d+)", str(bob.http.get("/ui/apply").text)).group(1))  # type: ignore[union-attr]
    bob.get(f"/ui/batches/{batch}")
    reply = bob.post(f"/ui/batches/{batch}/apply", {})
    assert "Nothing was applied." in reply.text
    assert f'Change <a href="/ui/changes/{second}">#{second}</a> failed' in reply.text
    assert "stale" in reply.text
    assert (status(site, first), status(site, second)) == ("approved", "approved")
    record = site.services.catalog.record(Category.image_generation, "Tidewater Card")
    assert record["description"] != "first edit"
    # The reviewer revokes the second approval, then the batch applies.
    bob.get(f"/ui/changes/{second}")
    bob.post(
        f"/ui/changes/{second}/review",
        {"change_ids": second, "decision": "reject", "reject_reason": "superseded"},
    )
    bob.get(f"/ui/batches/{batch}")
    reply = bob.post(f"/ui/batches/{batch}/apply", {})
    assert "Batch applied" in reply.text
    assert status(site, first) == "applied"


def test_history_pages_newest_first_with_a_cursor(site: Deployment) -> None:
    bob = site.actor("bob")
    titles = []
    for n in range(12):
        change_id = edit(site, "Orchard Fantasy", description=f"history {n}")
        title = f"history batch {n}"
        result = site.services.review.process_batch(
            approver_id=bob.user_id,
            approver_username=bob.username,
            batch_title=title,
            approved_ids=[change_id],
            rejected_ids=[],
        )
        assert result.batch_id is not None
        site.services.apply.apply_batch(result.batch_id, bob.user_id, bob.username)
        titles.append(title)
    ui = site.client("dave")
    first = ui.get("/ui/history").text
    shown = re.findall(r"history batch (\d+)", first)
    assert shown[:10] == [str(n) for n in range(11, 1, -1)]
    older = re.search(r'href="(/ui/history\?before=\d+)"', first)
    assert older
    second = ui.get(older.group(1)).text
    assert re.findall(r"history batch (\d+)", second)[:2] == ["1", "0"]
    timeline = ui.get("/ui/timeline?category=image_generation&name=Orchard%20Fantasy")
    assert timeline.text.count("catalog update") == 12
    assert timeline.text.count("approved") >= 12


def test_every_page_is_small_labelled_and_answers_200(site: Deployment) -> None:
    for n in range(30):  # a full queue page
        edit(site, "Saffron Realism", description=f"bulk {n}")
    change_id = edit(site, "Saffron Realism", description="x" * 3000)
    text_records, _ = site.services.catalog.records(Category.text_generation)
    biggest = max(text_records, key=lambda n: len(str(text_records[n])))
    pages = [
        "/ui/queue",
        "/ui/queue?status=all&page=2",
        "/ui/queue?category=image_generation",
        f"/ui/changes/{change_id}",
        "/ui/apply",
        "/ui/history",
        "/ui/history/audit",
        "/ui/timeline?category=image_generation&name=Saffron%20Realism",
        "/ui/catalog",
        "/ui/catalog/text_generation",
        "/ui/catalog/text_generation?page=15",
        "/ui/catalog/image_generation?q=portrait",
        f"/ui/catalog/text_generation/{biggest}",
        "/ui/propose/miscellaneous",
    ]
    ui = site.client("carol")
    for url in pages:
        reply = ui.get(url)
        assert reply.status_code == 200, url
        assert len(reply.content) < MAX_HTML, (url, len(reply.content))
        assert reply.headers["content-security-policy"].startswith("default-src 'self'")
        assert unlabeled_controls(reply.text) == [], url
        assert 'lang="en"' in reply.text and 'name="viewport"' in reply.text


def test_pages_of_the_whole_public_catalog_stay_small(tmp_path: Path, reference_dir: Path) -> None:
    """With the real catalog's size (719 text, 161 image models) every page is under 200 KB."""
    deployment = deploy(tmp_path, reference_dir)
    try:
        text_records, _ = deployment.services.catalog.records(Category.text_generation)
        biggest = max(text_records, key=lambda n: len(str(text_records[n])))
        ui = deployment.client("carol")
        for url in (
            "/ui/catalog",
            "/ui/catalog/text_generation",
            "/ui/catalog/text_generation?page=15",
            "/ui/catalog/image_generation",
            f"/ui/catalog/text_generation/{biggest}",
            "/ui/queue?status=all",
        ):
            reply = ui.get(url)
            assert reply.status_code == 200, url
            assert len(reply.content) < MAX_HTML, (url, len(reply.content))
    finally:
        deployment.services.db.dispose()


def test_unknown_things_get_html_error_pages(site: Deployment) -> None:
    ui = site.client("dave")
    for url, code in [
        ("/ui/changes/999999", 404),
        ("/ui/batches/999999", 404),
        ("/ui/catalog/nope", 404),
        ("/ui/no/such/page", 404),
        ("/ui/changes/abc", 404),
    ]:
        reply = ui.get(url)
        assert reply.status_code == code, url
        assert reply.headers["content-type"].startswith("text/html"), url


def test_session_secret_is_created_once_and_shared(tmp_path: Path) -> None:
    from modelref.settings import Settings
    from modelref.web.session import key_path, load_secret

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'data' / 'm.db'}")
    first, second = load_secret(settings), load_secret(settings)
    assert first == second and len(first) == 32
    assert key_path(settings) == tmp_path / "data" / "session.key"
    assert (key_path(settings).stat().st_mode & 0o777) == 0o600


def test_revoking_a_key_ends_its_sessions(tmp_path: Path) -> None:
    deployment = deploy(tmp_path)
    key = deployment.services.keys.create("5005", "erin", "approver")
    ui = deployment.client()
    ui.sign_in(key)
    assert ui.get("/ui/queue", follow_redirects=False).status_code == 200
    deployment.services.keys.revoke(key[:10])
    reply = ui.get("/ui/queue", follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"].startswith("/ui/login")


def test_a_configured_session_secret_is_shared_by_instances(tmp_path: Path) -> None:
    from modelref.settings import Settings
    from modelref.web.session import load_secret

    a = Settings(database_url=f"sqlite:///{tmp_path / 'a' / 'db'}", session_secret="shared")
    b = Settings(database_url=f"sqlite:///{tmp_path / 'b' / 'db'}", session_secret="shared")
    c = Settings(database_url=f"sqlite:///{tmp_path / 'c' / 'db'}")
    assert load_secret(a) == load_secret(b) != load_secret(c)
    assert not (tmp_path / "a" / "session.key").exists()
