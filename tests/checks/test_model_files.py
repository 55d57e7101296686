"""Model-file checks against a real local HTTP server serving real bytes.

Each case proposes a change whose download points at the server, runs the real ``check``
job through a real outbox worker, and reads the findings the way the API does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from modelref.domain.checks import CheckState, Severity
from tests.checks.conftest import MODEL, MODEL_SHA, Deployment, of, record, severities
from tests.checks.fileserver import closed_port

Deploy = Callable[..., Deployment]
URL_FIELD = "config.download.0.file_url"
SHA_FIELD = "config.download.0.sha256sum"


def test_the_right_file_passes(deploy: Deploy) -> None:
    d = deploy()
    url = d.server.url("/files/model.safetensors")
    checks = d.checked(
        record("good", url, size_on_disk_bytes=len(MODEL), download={"size_bytes": len(MODEL)})
    )
    assert checks.state is CheckState.done
    assert severities(checks) == {Severity.info}
    (verified,) = of(checks, "sha256", Severity.info)
    assert verified.field == SHA_FIELD and f"{len(MODEL):,} bytes" in verified.message
    assert ("GET", "/files/model.safetensors") in d.server.files.requests


def test_a_wrong_sha256_is_an_error_naming_both_digests(deploy: Deploy) -> None:
    d = deploy()
    wrong = "ab" * 32
    checks = d.checked(record("wrong_sha", d.server.url("/files/model.safetensors"), wrong))
    assert checks.state is CheckState.done
    (err,) = of(checks, "sha256", Severity.error)
    assert err.field == SHA_FIELD and MODEL_SHA in err.message and wrong in err.message


def test_a_file_size_that_differs_is_an_error(deploy: Deploy) -> None:
    d = deploy()
    url = d.server.url("/files/model.safetensors")
    checks = d.checked(record("wrong_size", url, download={"size_bytes": len(MODEL) + 1}))
    (err,) = of(checks, "size", Severity.error)
    assert err.field == "config.download.0.size_bytes"
    assert f"{len(MODEL):,}" in err.message and f"{len(MODEL) + 1:,}" in err.message


def test_size_on_disk_bytes_is_compared_within_the_documented_tolerance(deploy: Deploy) -> None:
    d = deploy()
    url = d.server.url("/files/model.safetensors")
    close = d.checked(record("near", url, size_on_disk_bytes=int(len(MODEL) * 1.005)))
    assert of(close, "size") == []
    far = d.checked(record("far", url, size_on_disk_bytes=len(MODEL) * 2))
    (err,) = of(far, "size", Severity.error)
    assert err.field == "size_on_disk_bytes" and "1%" in err.message


def test_an_html_page_is_not_a_model_file(deploy: Deploy) -> None:
    d = deploy()
    for name, path in (("page", "/page"), ("login_wall", "/login")):
        checks = d.checked(record(name, d.server.url(path)))
        assert checks.state is CheckState.done
        (err,) = of(checks, "content_type", Severity.error)
        assert err.field == URL_FIELD and "HTML page" in err.message


def test_a_text_content_type_for_a_weights_file_is_an_error(deploy: Deploy) -> None:
    d = deploy()
    checks = d.checked(record("texty", d.server.url("/gzip/model.safetensors")))
    (err,) = of(checks, "content_type", Severity.error)
    assert "text/plain" in err.message


def test_a_missing_file_is_an_error(deploy: Deploy) -> None:
    d = deploy()
    checks = d.checked(record("gone", d.server.url("/missing")))
    assert checks.state is CheckState.done
    (err,) = of(checks, "url", Severity.error)
    assert err.field == URL_FIELD and "404" in err.message


def test_a_redirect_loop_is_an_error(deploy: Deploy) -> None:
    d = deploy()
    checks = d.checked(record("loop", d.server.url("/loop/a")))
    (err,) = of(checks, "url", Severity.error)
    assert "redirect loop" in err.message


def test_too_many_redirects_is_an_error(deploy: Deploy) -> None:
    d = deploy(check_max_redirects=2)
    hop3 = d.server.url("/files/model.safetensors")
    hop2 = d.server.url(f"/to?url={hop3}")
    hop1 = d.server.url(f"/to?url={hop2}%26x%3D1")
    ok = d.checked(record("two_hops", hop2))
    assert of(ok, "sha256", Severity.info)
    checks = d.checked(record("three_hops", d.server.url(f"/to?url={hop1}")))
    (err,) = of(checks, "url", Severity.error)
    assert "more than 2 redirects" in err.message


def test_a_slow_server_runs_into_the_time_limit_and_stays_unchecked(deploy: Deploy) -> None:
    d = deploy(check_time_limit_seconds=1.0)
    d.server.files.slow_seconds = 30
    started = time.monotonic()
    checks = d.checked(record("slow", d.server.url("/slow")))
    assert time.monotonic() - started < 10  # bounded by the setting, not by the server
    assert checks.state is CheckState.unchecked
    (note,) = of(checks, "url", Severity.warning)
    assert note.message.startswith("unchecked:") and "timed out" in note.message
    assert of(checks, "sha256", Severity.info) == []


def test_a_refused_connection_is_unchecked_with_the_reason(deploy: Deploy) -> None:
    d = deploy()
    checks = d.checked(record("refused", f"http://127.0.0.1:{closed_port()}/m.safetensors"))
    assert checks.state is CheckState.unchecked
    (note,) = of(checks, "url", Severity.warning)
    assert "connection refused" in note.message
    assert Severity.error not in severities(checks)


def test_network_failures_retry_with_backoff_then_settle_unchecked(deploy: Deploy) -> None:
    d = deploy(check_attempts=3)
    change_id = d.propose(record("flaky", f"http://127.0.0.1:{closed_port()}/m.safetensors"))
    assert d.run_checks() == 1
    retrying = d.checks(change_id)
    assert retrying.state is CheckState.pending and retrying.attempts == 1
    assert any("will retry" in f.message for f in retrying.findings)
    for _ in range(2):
        assert d.run_checks() == 0  # not due before its backoff
        d.clock.advance(600)
        assert d.run_checks() == 1
    settled = d.checks(change_id)
    assert settled.state is CheckState.unchecked and settled.attempts == 3


def test_unchecked_changes_do_not_block_approval(deploy: Deploy) -> None:
    d = deploy()
    bad = d.propose(record("blocked?", f"http://127.0.0.1:{closed_port()}/x.safetensors"))
    wrong = d.propose(record("wrong", d.server.url("/files/model.safetensors"), "cd" * 32))
    d.run_checks()
    assert d.checks(bad).state is CheckState.unchecked
    assert of(d.checks(wrong), "sha256", Severity.error)
    result = d.services.review.process_batch(
        approver_id="2002",
        approver_username="bob#2002",
        batch_title="default policy: findings inform",
        approved_ids=[bad, wrong],
        rejected_ids=None,
    )
    assert [r.change_id for r in result.approved] == [bad, wrong]


def test_loopback_is_refused_without_the_allow_list(deploy: Deploy) -> None:
    d = deploy(check_allow_hosts="")
    checks = d.checked(record("private", d.server.url("/files/model.safetensors")))
    assert checks.state is CheckState.done
    (err,) = of(checks, "address", Severity.error)
    assert "127.0.0.1 is a loopback address" in err.message
    assert d.server.files.requests == []  # refused before connecting


def test_every_redirect_hop_is_vetted(deploy: Deploy) -> None:
    d = deploy()  # 127.0.0.1 allowed, nothing else
    targets = {
        "metadata": ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        "v6_loopback": (f"http://[::1]:{d.server.port}/files/model.safetensors", "loopback"),
        "private": ("http://10.1.2.3/model.safetensors", "private address"),
        "mapped": ("http://[::ffff:192.168.0.1]/m", "IPv6 form of 192.168.0.1"),
    }
    for name, (target, reason) in targets.items():
        checks = d.checked(record(name, d.server.url(f"/to?url={target}")))
        (err,) = of(checks, "address", Severity.error)
        assert reason in err.message, (name, err.message)


def test_a_host_name_on_the_allow_list_is_reachable(deploy: Deploy) -> None:
    d = deploy(check_allow_hosts="localhost")
    url = f"http://localhost:{d.server.port}/files/model.safetensors"
    checks = d.checked(record("by_name", url))
    assert of(checks, "sha256", Severity.info), checks.findings
    assert of(checks, "address") == []


def test_a_server_that_refuses_head_is_checked_with_a_ranged_get(deploy: Deploy) -> None:
    d = deploy()
    checks = d.checked(record("nohead", d.server.url("/nohead/model.safetensors")))
    assert of(checks, "sha256", Severity.info)
    (answer,) = of(checks, "url", Severity.info)
    assert "206" in answer.message and f"{len(MODEL):,} bytes" in answer.message
    methods = [m for m, p in d.server.files.requests if p == "/nohead/model.safetensors"]
    assert methods == ["HEAD", "GET", "GET"]


def test_sha256_policy_never_auto_and_always(deploy: Deploy) -> None:
    url_path = "/files/model.safetensors"
    never = deploy(verify_sha256="never")
    checks = never.checked(record("never", never.server.url(url_path), "ef" * 32))
    (note,) = of(checks, "sha256")
    assert note.severity is Severity.info and "never" in note.message
    assert ("GET", url_path) not in never.server.files.requests

    capped = deploy(verify_sha256="auto", verify_sha256_max_bytes=1024)
    checks = capped.checked(record("capped", capped.server.url(url_path)))
    (note,) = of(checks, "sha256")
    assert note.severity is Severity.info and "1,024-byte limit" in note.message

    always = deploy(verify_sha256="always", verify_sha256_max_bytes=1024)
    checks = always.checked(record("always", always.server.url(url_path)))
    assert of(checks, "sha256", Severity.info)[0].message.startswith("sha256 verified")


def test_a_placeholder_sha256_is_a_warning(deploy: Deploy) -> None:
    d = deploy()
    checks = d.checked(record("fixme", d.server.url("/files/model.safetensors"), "FIXME"))
    (warning,) = of(checks, "sha256", Severity.warning)
    assert "FIXME" in warning.message


def test_the_byte_budget_bounds_a_job(deploy: Deploy) -> None:
    d = deploy(check_max_bytes=len(MODEL) // 2)
    checks = d.checked(record("budget", d.server.url("/files/model.safetensors")))
    (note,) = of(checks, "sha256", Severity.info)
    assert "byte budget" in note.message
    assert Severity.error not in severities(checks)


def test_legacy_payloads_are_checked_as_the_v2_record_they_stand_for(deploy: Deploy) -> None:
    d = deploy(canonical_format="legacy")
    legacy = {
        "name": "legacy_thing",
        "type": "layer_diffuse",
        "description": "a legacy entry",
        "config": {
            "files": [{"path": "legacy_thing.safetensors", "sha256sum": MODEL_SHA}],
            "download": [
                {
                    "file_name": "legacy_thing.safetensors",
                    "file_path": "",
                    "file_url": d.server.url("/files/model.safetensors"),
                }
            ],
        },
    }
    change = d.services.review.enqueue_change(
        category="miscellaneous",
        model_name="legacy_thing",
        operation="create",
        payload=legacy,
        requestor_id="1001",
        requestor_username="alice#1001",
        request_metadata={"payload_format": "legacy"},
    )
    d.run_checks()
    checks = d.checks(change.change_id)
    (verified,) = of(checks, "sha256", Severity.info)
    assert verified.message.startswith("sha256 verified") and verified.field == SHA_FIELD
