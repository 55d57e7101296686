"""The ``config`` block of legacy image entries ↔ v2 ``config.download`` (spec data-model §7).

Legacy splits a model's files in two joined lists (``files`` keyed by ``path``, ``download`` keyed
by ``file_name``); v2 keeps one ``DownloadRecord`` per model file. Everything v2 has no place for
(md5sums, ``.yaml`` inference configs, ``file_path``, per-entry key order, files without a
download) goes into a JSON-serialisable "config extras" dict so the reverse can rebuild the legacy
block exactly while still taking every value v2 *does* hold from the (possibly edited) v2 record.
"""

from __future__ import annotations

from typing import Any

from modelref.domain.errors import ValidationFailed

JsonDict = dict[str, Any]

#: Placeholder upstream writes when a legacy file has no sha256.
FIXME_SHA = "FIXME"

#: Order of keys in a legacy ``files[]`` entry (legacy JSON schema order, then newer keys).
_FILE_KEY_ORDER = ("path", "md5sum", "sha256sum", "file_type", "content_hash")
#: Order of keys in a legacy ``download[]`` entry.
_DOWNLOAD_KEY_ORDER = ("file_name", "file_path", "file_url")
#: Keys of a legacy ``config`` block v2 represents, in legacy order.
_CONFIG_KEYS = ("files", "download", "embedded_component_hashes")
#: Keys of a legacy ``files[]`` entry that v2 represents.
_FILE_V2_KEYS = frozenset({"path", "sha256sum", "file_type", "content_hash"})
#: Keys of a legacy ``download[]`` entry that v2 represents.
_DOWNLOAD_V2_KEYS = frozenset({"file_name", "file_url"})


def is_model_file(path: object) -> bool:
    """Upstream keeps a ``files[]`` entry only if its path is set and is not a ``.yaml`` config."""
    return isinstance(path, str) and path != "" and "yaml" not in path.lower()


def _ordered(entry: JsonDict, canonical: tuple[str, ...], order: list[str] | None) -> JsonDict:
    """``entry`` with keys in ``order`` (if given) else canonical order; unknown keys last."""
    keys = list(order) if order else list(canonical)
    head = [k for k in keys if k in entry]
    tail = [k for k in entry if k not in head]
    return {k: entry[k] for k in head + tail}


def _key_order_if_needed(entry: JsonDict, canonical: tuple[str, ...]) -> list[str] | None:
    """The entry's own key order, or None when the canonical order reproduces it."""
    keys = list(entry)
    return None if list(_ordered(entry, canonical, None)) == keys else keys


def legacy_config_to_v2(config: JsonDict, model: str) -> tuple[JsonDict, JsonDict]:
    """Merge legacy ``files``/``download`` into v2 ``config`` and collect what v2 cannot hold.

    Raises ``ValidationFailed`` when a download names no file: upstream aborts the whole category
    in that case, so silently inventing a record would diverge from it.
    """
    files: list[JsonDict] = list(config.get("files") or [])
    downloads: list[JsonDict] = list(config.get("download") or [])
    by_name: dict[str, JsonDict] = {}
    for dl in downloads:
        by_name.setdefault(str(dl.get("file_name")), dl)
    model_paths = [str(f["path"]) for f in files if is_model_file(f.get("path"))]
    for dl in downloads:
        if dl.get("file_name") not in model_paths:
            raise ValidationFailed(
                f"{model}: download {dl.get('file_name')!r} has no matching config file"
            )

    v2_downloads: list[JsonDict] = []
    extras: JsonDict = {}
    file_extras: JsonDict = {}
    other_files: list[list[Any]] = []
    no_download: list[str] = []
    for index, entry in enumerate(files):
        if not is_model_file(entry.get("path")):
            other_files.append([index, entry])
            continue
        path = str(entry["path"])
        match = by_name.get(path)
        record: JsonDict = {
            "file_name": path,
            "file_url": match.get("file_url", "") if match else "",
            "sha256sum": entry.get("sha256sum") or FIXME_SHA,
        }
        if entry.get("content_hash") is not None:
            record["content_hash"] = entry["content_hash"]
        if entry.get("file_type") is not None:
            record["file_purpose"] = entry["file_type"]
        record["known_slow_download"] = "civitai" in path
        v2_downloads.append(record)
        if match is None:
            no_download.append(path)
        fx = _file_extras(entry)
        if match is not None:
            fx.update(_download_extras(match))
        if fx:
            file_extras[path] = fx

    if other_files:
        extras["other_files"] = other_files
    if file_extras:
        extras["files"] = file_extras
    if no_download:
        extras["no_download"] = no_download
    download_order = [str(dl.get("file_name")) for dl in downloads]
    if download_order != [p for p in model_paths if p not in no_download]:
        extras["download_order"] = download_order
    config_fields = {k: v for k, v in config.items() if k not in _CONFIG_KEYS}
    if config_fields:
        extras["fields"] = config_fields
    if list(config) != [k for k in _CONFIG_KEYS if k in config]:
        extras["key_order"] = list(config)

    v2_config: JsonDict = {"download": v2_downloads}
    if config.get("embedded_component_hashes") is not None:
        v2_config["embedded_component_hashes"] = config["embedded_component_hashes"]
    return v2_config, extras


def _file_extras(entry: JsonDict) -> JsonDict:
    """What of one legacy ``files[]`` entry the v2 download record cannot reproduce."""
    fx: JsonDict = {}
    unknown = {k: v for k, v in entry.items() if k not in _FILE_V2_KEYS}
    if unknown:
        fx["fields"] = unknown  # md5sum and anything unexpected: describes the file's content,
        fx["for_sha256sum"] = entry.get("sha256sum") or FIXME_SHA  # so tied to this digest
    raw = {
        k: entry[k]
        for k in ("sha256sum", "file_type", "content_hash")
        if k in entry and (entry[k] is None or (k == "sha256sum" and entry[k] in ("", FIXME_SHA)))
    }
    if raw:
        fx["raw"] = raw  # null / "" / literal FIXME that v2 normalised away
    order = _key_order_if_needed(entry, _FILE_KEY_ORDER)
    if order:
        fx["key_order"] = order
    return fx


def _download_extras(dl: JsonDict) -> JsonDict:
    """What of one legacy ``download[]`` entry v2 cannot reproduce (``file_path``, odd keys)."""
    fx: JsonDict = {}
    unknown = {k: v for k, v in dl.items() if k not in _DOWNLOAD_V2_KEYS}
    if unknown != {"file_path": ""}:
        fx["download_fields"] = unknown
    order = _key_order_if_needed(dl, _DOWNLOAD_KEY_ORDER)
    if order:
        fx["download_key_order"] = order
    return fx


def v2_config_to_legacy(config: JsonDict | None, extras: JsonDict | None) -> JsonDict:
    """Rebuild the legacy ``config`` block from v2 downloads plus (optional) config extras."""
    ex = extras or {}
    file_ex: JsonDict = ex.get("files") or {}
    no_download = set(ex.get("no_download") or [])
    files: list[JsonDict] = []
    downloads: list[JsonDict] = []
    for record in (config or {}).get("download") or []:
        path = str(record.get("file_name", ""))
        fx: JsonDict = file_ex.get(path) or {}
        raw: JsonDict = fx.get("raw") or {}
        sha = record.get("sha256sum")
        same_file = fx.get("for_sha256sum", sha) == sha
        entry: JsonDict = {"path": path, **((fx.get("fields") or {}) if same_file else {})}
        if sha and sha != FIXME_SHA:
            entry["sha256sum"] = sha
        elif "sha256sum" in raw:
            entry["sha256sum"] = raw["sha256sum"]
        for v2_key, legacy_key in (("file_purpose", "file_type"), ("content_hash", "content_hash")):
            if record.get(v2_key) is not None:
                entry[legacy_key] = record[v2_key]
            elif legacy_key in raw:
                entry[legacy_key] = raw[legacy_key]
        files.append(_ordered(entry, _FILE_KEY_ORDER, fx.get("key_order")))
        url = record.get("file_url") or ""
        if url == "" and (extras is None or path in no_download):
            continue  # a file without a download stays download-less
        dl_fields = fx.get("download_fields", {"file_path": ""})
        dl: JsonDict = {"file_name": path, **dl_fields, "file_url": url}
        downloads.append(_ordered(dl, _DOWNLOAD_KEY_ORDER, fx.get("download_key_order")))

    for index, entry in ex.get("other_files") or []:
        files.insert(min(int(index), len(files)), entry)
    order = ex.get("download_order")
    if order:
        rank = {name: i for i, name in enumerate(order)}
        downloads.sort(key=lambda d: rank.get(d["file_name"], len(rank)))

    legacy: JsonDict = {"files": files, "download": downloads}
    hashes = (config or {}).get("embedded_component_hashes")
    if hashes is not None:
        legacy["embedded_component_hashes"] = hashes
    legacy.update(ex.get("fields") or {})
    return _ordered(legacy, _CONFIG_KEYS, ex.get("key_order"))
