"""v2/v1 reads, the cached fast path (ETag, 304, gzip), metadata, probes and OpenAPI."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

from modelref.domain.categories import Category
from tests.api.conftest import V1, V2, Api


def test_probes_and_docs(api: Api) -> None:
    c = api.client
    assert c.get("/api/replicate_mode").json() == {
        "replicate_mode": "PRIMARY",
        "canonical_format": "v2",
        "writable": True,
    }
    beat = c.get("/api/heartbeat").json()
    assert beat["status"] == "ok" and beat["ai_horde"]["degraded"] is False
    assert "message" in c.get("/api/").json()
    assert c.get("/docs").status_code == 200
    doc = c.get("/openapi.json").json()
    assert f"{V2}/pending_queue/changes" in doc["paths"]
    assert f"{V1}/pending_queue/changes" in doc["paths"]
    assert doc["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "apikey"


def test_model_categories(api: Api) -> None:
    v2 = api.client.get(f"{V2}/model_categories").json()
    assert "lora" not in v2 and v2[0] == "blip" and "image_generation" in v2
    v1 = api.client.get(f"{V1}/model_categories").json()
    assert len(v1) == 15 and "lora" in v1


def test_category_read_etag_304_gzip(api: Api) -> None:
    api.seed("alpha", "long " * 400)
    api.seed("beta")
    c = api.client
    r = c.get(f"{V2}/miscellaneous", headers={"accept-encoding": "identity"})
    assert r.status_code == 200
    assert set(r.json()) == {"alpha", "beta"}
    assert "content-encoding" not in r.headers
    etag = r.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert c.get(f"{V2}/miscellaneous", headers={"if-none-match": etag}).status_code == 304
    assert c.get(f"{V2}/miscellaneous", headers={"if-none-match": f"W/{etag}"}).status_code == 304
    assert c.get(f"{V2}/miscellaneous", headers={"if-none-match": '"nope"'}).status_code == 200
    raw = c.get(f"{V2}/miscellaneous", headers={"accept-encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.headers["vary"].lower() == "accept-encoding"
    assert json.loads(raw.content) == r.json()  # httpx decodes gzip transparently
    head = c.head(f"{V2}/miscellaneous")
    assert head.status_code == 200 and head.content == b""


def test_read_follows_a_catalog_write(api: Api) -> None:
    api.seed("alpha")
    first = api.client.get(f"{V2}/miscellaneous")
    cid = api.propose("gamma")
    api.approve([cid])
    api.apply(cid)  # through this process: the cache is invalidated at once
    second = api.client.get(f"{V2}/miscellaneous", headers={"if-none-match": first.headers["etag"]})
    assert second.status_code == 200
    assert set(second.json()) == {"alpha", "gamma"}
    assert second.headers["etag"] != first.headers["etag"]


def test_missing_and_unknown_categories(api: Api) -> None:
    r = api.client.get(f"{V2}/video_generation")
    assert r.status_code == 404
    assert r.json() == {
        "detail": "Model category 'video_generation' not found",
        "code": "not_found",
    }
    assert api.client.get(f"{V2}/not_a_category").status_code == 422


def test_single_model_names_with_slash(api: Api) -> None:
    record = {
        "record_type": "text_generation",
        "name": "Org/Model-7B",
        "parameters": 7_000_000_000,
        "baseline": "llama",
        "config": {"download": []},
    }
    from tests.factories import seed_catalog

    seed_catalog(api.services.db, "text_generation", record)
    for path in ("Org/Model-7B", "Org%2FModel-7B"):
        r = api.client.get(f"{V2}/text_generation/model/{path}")
        assert r.status_code == 200, path
        assert r.json()["name"] == "Org/Model-7B"
        etag = r.headers["etag"]
        again = api.client.get(
            f"{V2}/text_generation/model/{path}", headers={"if-none-match": etag}
        )
        assert again.status_code == 304
    missing = api.client.get(f"{V2}/text_generation/model/Org/Other")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "Model 'Org/Other' not found in category 'text_generation'"


def test_v1_legacy_reads(api: Api, corpus_dir: Path) -> None:
    from modelref.domain.actors import Actor

    api.services.files.import_path(corpus_dir / "legacy", Actor("1", "admin#1"))
    c = api.client
    sd = c.get(f"{V1}/stable_diffusion.json")
    assert sd.status_code == 200
    assert c.get(f"{V1}/image_generation").json() == sd.json()
    entry = next(iter(sd.json().values()))
    assert "config" in entry and "files" in entry["config"]  # legacy shape
    db = c.get(f"{V1}/db.json").json()
    assert any(k.startswith("aphrodite/") for k in db) and any(
        k.startswith("koboldcpp/") for k in db
    )
    grouped = c.get(f"{V1}/text_generation", params={"include_group": "true"}).json()
    some = next(iter(grouped.values()))
    assert "text_model_group" in some and "text_model_group_summary" in some
    assert (
        c.get(f"{V1}/lora").json() == {} and c.get(f"{V1}/ti.json").json() == {}
    )  # no legacy form
    assert c.get(f"{V1}/controlnet_annotator").status_code == 404
    assert c.get(f"{V1}/nope").status_code == 422
    etag = sd.headers["etag"]
    assert c.get(f"{V1}/stable_diffusion", headers={"if-none-match": etag}).status_code == 304
    compressed = c.get(f"{V1}/db.json", headers={"accept-encoding": "gzip"})
    assert compressed.headers["content-encoding"] == "gzip"


def test_v1_read_of_a_v2_only_category_with_records_is_404(api: Api, corpus_dir: Path) -> None:
    from modelref.domain.actors import Actor

    api.services.files.import_path(corpus_dir / "v2", Actor("1", "admin#1"))
    assert api.services.catalog.records(Category.controlnet_annotator)[0]
    assert api.client.get(f"{V1}/controlnet_annotator").status_code == 404  # spec: missing


def test_gzip_body_is_the_identity_body(api: Api) -> None:
    api.seed("alpha", "x" * 2000)
    cache = api.client.app.api.state.read_cache  # type: ignore[attr-defined]
    from modelref.domain.categories import Category

    entry = cache.get("v2", Category.miscellaneous)
    assert entry is not None and entry.rendered.gz_body is not None
    assert gzip.decompress(entry.rendered.gz_body) == entry.rendered.body


def test_metadata_routes(api: Api) -> None:
    c = api.client
    assert c.get(f"{V2}/metadata/last_updated").json() == {"last_updated": None}
    assert c.get(f"{V2}/metadata/miscellaneous").status_code == 404
    api.seed("alpha")
    meta = c.get(f"{V2}/metadata/miscellaneous").json()
    assert meta["category"] == "miscellaneous" and meta["total_models"] == 1
    assert meta["metadata_schema_version"] == "1.0.0"
    lu = c.get(f"{V2}/metadata/miscellaneous/last_updated").json()
    assert lu["category"] == "miscellaneous" and isinstance(lu["last_updated"], int)
    assert set(c.get(f"{V2}/metadata/metadata").json()) == {"miscellaneous"}
    assert c.get(f"{V1}/metadata/last_updated").json()["last_updated"] == lu["last_updated"]
    assert c.get(f"{V1}/metadata/miscellaneous").status_code == 200


def test_beta_view_needs_a_key(api: Api) -> None:
    api.propose("fresh")
    assert api.client.get(f"{V2}/miscellaneous/pending").status_code == 401
    view = api.client.get(f"{V2}/miscellaneous/pending", headers=api.h("reader")).json()
    assert set(view) == {"fresh"}


def test_reads_are_cached_until_the_version_check_interval_passes(
    api_factory: Callable[..., Api],
) -> None:
    """A write by another process (straight into the database) is not seen while the interval
    runs (here: an hour), and is seen at the next version check (forced here)."""
    api = api_factory(cache_interval=3600)
    api.seed("alpha")
    assert set(api.client.get(f"{V2}/miscellaneous").json()) == {"alpha"}
    api.seed_elsewhere("beta")  # as another instance's apply would
    assert set(api.client.get(f"{V2}/miscellaneous").json()) == {"alpha"}  # cached
    assert api.client.get(f"{V2}/miscellaneous/model/beta").status_code == 404
    api.client.app.api.state.read_cache.invalidate()  # type: ignore[attr-defined]
    assert set(api.client.get(f"{V2}/miscellaneous").json()) == {"alpha", "beta"}
    assert api.client.get(f"{V2}/miscellaneous/model/beta").status_code == 200


def test_writes_by_another_process_show_at_the_next_check(api_factory: Callable[..., Api]) -> None:
    api = api_factory(cache_interval=0)  # check the versions on every read
    api.seed("alpha")
    first = api.client.get(f"{V2}/miscellaneous")
    assert set(first.json()) == {"alpha"}
    api.seed_elsewhere("beta")  # straight into the database, as another instance's would
    second = api.client.get(f"{V2}/miscellaneous", headers={"if-none-match": first.headers["etag"]})
    assert second.status_code == 200 and set(second.json()) == {"alpha", "beta"}
    assert api.client.get(f"{V2}/miscellaneous/model/beta").status_code == 200
