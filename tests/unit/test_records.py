"""v2 record validation: the catalog files validate (corpus; public reference in its tier), bad
input is refused naming the field."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from modelref.domain.categories import DEFAULT_CLASSIFICATION, LEGACY_CATEGORIES, Category
from modelref.domain.errors import ValidationFailed
from modelref.domain.records import (
    RECORD_TYPES,
    check_model_name,
    record_warnings,
    validate_record,
)
from tests.conftest import is_reference
from tests.corpus import V2_COUNTS


def _category_of(path: Path) -> Category:
    return Category.image_generation if path.stem == "stable_diffusion" else Category(path.stem)


def _catalog(root: Path) -> list[tuple[Category, str, dict[str, Any]]]:
    rows = []
    for path in sorted((root / "v2").glob("*.json")):
        for key, record in json.loads(path.read_text(encoding="utf-8")).items():
            rows.append((_category_of(path), key, record))
    return rows


def _scenario_changes(root: Path) -> list[dict[str, Any]]:
    changes = []
    for path in sorted((root / "scenarios").glob("*.json")):
        changes.extend(json.loads(path.read_text(encoding="utf-8")))
    return changes


def _image(**fields: Any) -> dict[str, Any]:
    return {"name": "Test Model", "baseline": "stable_diffusion_xl", "nsfw": False, **fields}


def _text(**fields: Any) -> dict[str, Any]:
    return {"name": "Org/Model-7B", "parameters": 7_000_000_000, **fields}


def _refused(category: Category, payload: object, **kwargs: Any) -> str:
    with pytest.raises(ValidationFailed) as info:
        validate_record(category, payload, **kwargs)
    return str(info.value)


# --- the catalog files --------------------------------------------------------------------------


def test_catalog_is_complete(data_dir: Path) -> None:
    # A silently empty data dir must not make the record loop below vacuous.
    catalog = _catalog(data_dir)
    if is_reference(data_dir):
        assert len(catalog) == 913
        assert {c for c, _, _ in catalog} == set(LEGACY_CATEGORIES)
    else:
        assert Counter(c for c, _, _ in catalog) == V2_COUNTS
        assert {c for c, _, _ in catalog} == set(Category)


def test_every_catalog_record_validates_unchanged(data_dir: Path) -> None:
    for category, key, record in _catalog(data_dir):
        out = validate_record(category, record, name=record["name"])
        # Nothing the converter wrote is changed or lost; only defaults are added.
        assert {k: out[k] for k in record} == record, key
        assert out["record_type"] == category.value, key
        domain, purpose = DEFAULT_CLASSIFICATION[category]
        assert out["model_classification"] == {"domain": domain, "purpose": purpose}, key
        # Validating the normalized form again is a no-op.
        assert validate_record(category, out) == out, key


def test_text_catalog_records_come_back_exactly(data_dir: Path) -> None:
    text = [(k, r) for c, k, r in _catalog(data_dir) if c is Category.text_generation]
    assert text
    for _, record in text:
        assert validate_record(Category.text_generation, record) == record


def test_image_records_get_the_defaults_the_converter_omitted(data_dir: Path) -> None:
    _, _, record = next(r for r in _catalog(data_dir) if r[0] is Category.image_generation)
    out = validate_record(Category.image_generation, record)
    assert "record_type" not in record
    assert out["record_type"] == "image_generation"
    assert out["metadata"] == {"schema_version": "2.0.0"}
    assert out["inpainting"] is False


def test_scenario_payloads_validate(data_dir: Path) -> None:
    changes = _scenario_changes(data_dir)
    assert [c["operation"] for c in changes] == ["create", "update", "delete"]
    for change in changes:
        if change["payload"] is None:
            assert change["operation"] == "delete"
            continue
        category = Category(change["category"])
        out = validate_record(category, change["payload"], name=change["model_name"])
        assert {k: out[k] for k in change["payload"]} == change["payload"]


# --- normalization ------------------------------------------------------------------------------


def test_unknown_fields_are_dropped_at_every_level() -> None:
    out = validate_record(
        Category.clip,
        {
            "name": "c",
            "surprise": 1,
            "config": {"download": [{"file_name": "a", "file_url": "u", "extra": True}]},
        },
    )
    assert "surprise" not in out
    assert out["config"]["download"] == [{"file_name": "a", "file_url": "u", "sha256sum": "FIXME"}]


def test_nulls_are_dropped_and_defaults_filled() -> None:
    out = validate_record(Category.esrgan, {"name": "e", "description": None, "version": None})
    assert out == {
        "record_type": "esrgan",
        "name": "e",
        "metadata": {"schema_version": "2.0.0"},
        "config": {"download": []},
        "model_classification": {"domain": "image", "purpose": "post_processing"},
    }


@pytest.mark.parametrize("category", list(Category))
def test_every_category_has_a_record_type_with_its_default_classification(
    category: Category,
) -> None:
    assert set(RECORD_TYPES) == set(Category)
    payload: dict[str, Any] = {"name": "m"}
    if category is Category.image_generation:
        payload = _image(name="m")
    elif category is Category.text_generation:
        payload = _text(name="m")
    out = validate_record(category, payload)
    domain, purpose = DEFAULT_CLASSIFICATION[category]
    assert out["model_classification"] == {"domain": domain, "purpose": purpose}
    assert out["record_type"] == category.value


def test_explicit_classification_is_kept() -> None:
    out = validate_record(
        Category.miscellaneous,
        {"name": "m", "model_classification": {"domain": "video", "purpose": "generation"}},
    )
    assert out["model_classification"] == {"domain": "video", "purpose": "generation"}


def test_image_lists_default_to_empty_and_items_are_trimmed() -> None:
    out = validate_record(
        Category.image_generation,
        _image(tags=[" anime ", "cg"], showcases=None, trigger=[" hi "], style=" anime "),
    )
    assert out["tags"] == ["anime", "cg"]
    assert out["showcases"] == []
    assert out["trigger"] == ["hi"]
    assert out["style"] == "anime"
    assert out["inpainting"] is False


def test_baseline_alias_is_accepted_and_stored_as_sent() -> None:
    assert validate_record(Category.image_generation, _image(baseline="SDXL"))["baseline"] == "SDXL"
    for alias in ("stable diffusion 1.5", "qwen-image", "zimage", "flux dev", "infer"):
        validate_record(Category.image_generation, _image(baseline=alias))


def test_requirements_accept_scalars_and_lists() -> None:
    reqs = {"clip_skip": 2, "max_cfg_scale": 7.5, "samplers": ["k_euler"], "hires": True}
    out = validate_record(Category.image_generation, _image(requirements=reqs))
    assert out["requirements"] == reqs


def test_text_parameters_count_is_read_and_written_as_parameters() -> None:
    payload = {"name": "Org/Model-7B", "parameters_count": 7_000_000_000}
    out = validate_record(Category.text_generation, payload)
    assert out["parameters"] == 7_000_000_000
    assert "parameters_count" not in out


@pytest.mark.parametrize(
    ("given", "stored"),
    [(3_000_000_000.0, 3_000_000_000), ("3000000000", 3_000_000_000), (" 124000000 ", 124000000)],
)
def test_text_parameters_accept_integral_floats_and_numeric_strings(
    given: object, stored: int
) -> None:
    assert (
        validate_record(Category.text_generation, _text(parameters=given))["parameters"] == stored
    )


def test_text_tags_trimmed_but_not_defaulted() -> None:
    assert "tags" not in validate_record(Category.text_generation, _text())
    out = validate_record(Category.text_generation, _text(tags=[" chat", "rp "]))
    assert out["tags"] == ["chat", "rp"]


def test_text_settings_may_be_a_json_string() -> None:
    out = validate_record(Category.text_generation, _text(settings='{"temperature": 0.7}'))
    assert out["settings"] == {"temperature": 0.7}


def test_text_model_group_is_filled_when_missing_and_kept_when_given() -> None:
    payload = _text(name="Org/Llama-3-8B-Instruct-Q4_K_M")
    assert validate_record(Category.text_generation, payload)["text_model_group"] == "Llama-3"
    given = validate_record(Category.text_generation, {**payload, "text_model_group": "Mine"})
    assert given["text_model_group"] == "Mine"


def test_controlnet_unknown_style_is_allowed_with_a_warning() -> None:
    out = validate_record(Category.controlnet, {"name": "c", "controlnet_style": "control_new"})
    assert out["controlnet_style"] == "control_new"
    assert record_warnings(Category.controlnet, out) == [
        "controlnet_style: unknown controlnet style 'control_new'"
    ]
    known = validate_record(Category.controlnet, {"name": "c", "controlnet_style": "control_hough"})
    assert record_warnings(Category.controlnet, known) == []


def test_controlnet_annotator_lists() -> None:
    out = validate_record(
        Category.controlnet_annotator,
        {"name": "depth", "control_types": ["depth"], "preprocessors": None},
    )
    assert out["control_types"] == ["depth"]
    assert out["preprocessors"] == []


def test_common_optional_objects() -> None:
    out = validate_record(
        Category.lora,
        {
            "name": "l",
            "finetune_series": {"name": "series", "author": "me"},
            "metadata": {"schema_version": "2.1.0", "created_at": 1700000000},
            "trigger": [" word "],
        },
    )
    assert out["finetune_series"] == {"name": "series", "author": "me"}
    assert out["metadata"] == {"schema_version": "2.1.0", "created_at": 1700000000}
    assert out["trigger"] == ["word"]
    assert out["nsfw"] is False


# --- refusals: each message names the field -------------------------------------------------


@pytest.mark.parametrize(
    ("category", "payload", "expected"),
    [
        (
            Category.image_generation,
            _image(baseline="sdxl9"),
            "payload.baseline: Unknown baseline: sdxl9",
        ),
        (
            Category.image_generation,
            _image(baseline="sdxl"),
            "payload.baseline: Unknown baseline: sdxl",
        ),
        (
            Category.image_generation,
            _image(style="cartoon"),
            "payload.style: Unknown style: cartoon",
        ),
        (
            Category.image_generation,
            {"name": "x", "nsfw": False},
            "payload.baseline: Field required",
        ),
        (
            Category.image_generation,
            {"name": "x", "baseline": "infer"},
            "payload.nsfw: Field required",
        ),
        (
            Category.image_generation,
            _image(requirements={"clip_skip": {"nested": 1}}),
            "payload.requirements: value of 'clip_skip' must be",
        ),
        (Category.image_generation, _image(tags="anime"), "payload.tags: "),
        (
            Category.clip,
            {"name": "c", "config": {"download": [{"file_name": "a"}]}},
            "payload.config.download.0.file_url: Field required",
        ),
        (
            Category.clip,
            {"name": "c", "model_classification": {"domain": "smell", "purpose": "generation"}},
            "payload.model_classification.domain: ",
        ),
        (
            Category.clip,
            {"name": "c", "model_classification": {"domain": "image", "purpose": "fun"}},
            "payload.model_classification.purpose: ",
        ),
        (Category.clip, {"description": "no name"}, "payload.name: Field required"),
        (Category.clip, {"name": 5}, "payload.name: "),
        (Category.clip, {"name": "   "}, "payload.name: Model name must not be empty"),
        (Category.clip, {"name": "a\\b"}, "payload.name: Model name must not contain invalid"),
        (Category.clip, {"name": "c", "size_on_disk_bytes": True}, "payload.size_on_disk_bytes: "),
        (Category.clip, {"name": "c", "record_type": "controlnet"}, "payload.record_type: "),
        (Category.text_generation, {"name": "Org/M"}, "payload.parameters: Field required"),
        (Category.text_generation, _text(parameters=True), "payload.parameters: "),
        (Category.text_generation, _text(parameters=7.5), "payload.parameters: "),
        (Category.text_generation, _text(parameters="seven"), "payload.parameters: "),
        (Category.text_generation, _text(parameters=0), "payload.parameters: "),
        (
            Category.text_generation,
            _text(settings={"foo": 1}),
            "payload.settings: unknown key(s) foo",
        ),
        (Category.text_generation, _text(settings="{not json"), "payload.settings: "),
        (
            Category.text_generation,
            _text(name="aphrodite/Org/M"),
            "payload.name: Model name 'aphrodite/Org/M' contains a backend prefix",
        ),
        (Category.text_generation, _text(name="https://x/y"), "payload.name: "),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    category: Category, payload: dict[str, Any], expected: str
) -> None:
    assert expected in _refused(category, payload)


def test_record_type_of_another_category_is_refused_w16() -> None:
    # Upstream stores `{"name": "x", "record_type": "controlnet"}` posted to clip as controlnet.
    message = _refused(Category.clip, {"name": "x", "record_type": "controlnet"})
    assert message == "payload.record_type: 'controlnet' does not match the category 'clip'"


def test_name_must_match_the_model_named_by_the_request() -> None:
    message = _refused(Category.clip, {"name": "a"}, name="b")
    assert "payload.name" in message
    assert "'b'" in message
    assert validate_record(Category.clip, {"name": "a"}, name="a")["name"] == "a"


@pytest.mark.parametrize("payload", [None, [], "x", 3])
def test_payload_must_be_an_object(payload: object) -> None:
    assert _refused(Category.clip, payload) == "payload must be a JSON object"


def test_several_problems_are_all_reported() -> None:
    message = _refused(Category.image_generation, {"name": "x", "style": "bad"})
    assert "payload.baseline" in message
    assert "payload.nsfw" in message
    assert "payload.style" in message


def test_check_model_name() -> None:
    assert check_model_name("Org/Model") == "Org/Model"
    assert check_model_name(" spaced ") == " spaced "
    for bad in ("", "   ", "\t", "a\\b"):
        with pytest.raises(ValidationFailed, match="Model name must not"):
            check_model_name(bad)


@pytest.mark.parametrize("name", ["bad\x00name", "tab\tname", "line\nbreak", "del\x7f"])
def test_control_characters_in_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationFailed, match="control characters"):
        check_model_name(name)
