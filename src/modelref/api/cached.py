"""Answers to cached catalog reads, as (status, headers, body), built without the framework.

Used by the fast path (:mod:`modelref.api.fastpath`) and by the FastAPI routes that serve the
same reads, so both give byte-identical answers.
"""

from __future__ import annotations

import json

from modelref.domain.categories import Category
from modelref.service.read_cache import JSON_TYPE, Entry

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


def json_error(status: int, detail: str, code: str) -> Answer:
    """The API's error shape, built without the framework."""
    body = json.dumps({"detail": detail, "code": code}).encode()
    headers = [(b"content-type", JSON_TYPE), (b"content-length", str(len(body)).encode())]
    return status, headers, body


def answer(
    entry: Entry | None,
    category: Category,
    name: str | None,
    if_none_match: bytes | None,
    accept_gzip: bool,
) -> Answer:
    """The response to a cached read of a category (``name`` None) or of one model."""
    missing = f"Model category '{category.value}' not found"
    if entry is None or (name is None and not entry.rendered.body):
        return json_error(404, missing, "not_found")
    if name is None:
        return entry.rendered.response(if_none_match, accept_gzip)
    model = entry.model(name)
    if model is None:
        return json_error(
            404, f"Model '{name}' not found in category '{category.value}'", "not_found"
        )
    return model.response(if_none_match, accept_gzip)
