"""v2 record schemas per category and the one entry point that validates a proposed record.

Every write (enqueue, apply, import) goes through :func:`validate_record`, so a record in the
catalog always has the shape of its category. Improvements over upstream: the record type is
chosen by the category, never guessed from the body, and a mismatching ``record_type`` is
refused (W16); text input accepts ``parameters_count`` but always writes ``parameters``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from modelref.domain.categories import Category
from modelref.domain.errors import ValidationFailed
from modelref.domain.records_base import (
    BASELINE_ALIASES,
    CONTROLNET_STYLE,
    MODEL_STYLE,
    TEXT_SETTINGS_KEYS,
    Int,
    ParamMap,
    RecordBase,
    TrimmedList,
    TrimmedListOrEmpty,
    name_problem,
    parse_json_object,
)
from modelref.domain.text_variants import text_model_group, text_name_problem

# --- utility categories: only the common fields (plus one or two) -----------------------------


class BlipRecord(RecordBase):
    CATEGORY: ClassVar[Category] = Category.blip


class ClipRecord(RecordBase):
    CATEGORY: ClassVar[Category] = Category.clip

    pretrained_name: str | None = None


class CodeformerRecord(RecordBase):
    CATEGORY: ClassVar[Category] = Category.codeformer


class ControlnetRecord(RecordBase):
    """``controlnet_style`` outside the known list is allowed (see :func:`record_warnings`)."""

    CATEGORY: ClassVar[Category] = Category.controlnet

    controlnet_style: str | None = None


class ControlnetAnnotatorRecord(RecordBase):
    CATEGORY: ClassVar[Category] = Category.controlnet_annotator

    control_types: TrimmedListOrEmpty = Field(default_factory=list)
    preprocessors: TrimmedListOrEmpty = Field(default_factory=list)


class EsrganRecord(RecordBase):
    CATEGORY: ClassVar[Category] = Category.esrgan


class GfpganRecord(RecordBase):
    CATEGORY: ClassVar[Category] = Category.gfpgan


class SafetyCheckerRecord(RecordBase):
    CATEGORY: ClassVar[Category] = Category.safety_checker


class MiscellaneousRecord(RecordBase):
    CATEGORY: ClassVar[Category] = Category.miscellaneous


# --- generation categories --------------------------------------------------------------------


def _none_to_false(value: object) -> object:
    return False if value is None else value


def _trim(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class ImageGenerationRecord(RecordBase):
    """A Stable Diffusion / Flux / ... checkpoint; ``baseline`` and ``nsfw`` are required."""

    CATEGORY: ClassVar[Category] = Category.image_generation

    inpainting: Annotated[bool, BeforeValidator(_none_to_false)] = False
    baseline: str
    optimization: str | None = None
    tags: TrimmedListOrEmpty = Field(default_factory=list)
    showcases: TrimmedListOrEmpty = Field(default_factory=list)
    min_bridge_version: Int | None = None
    trigger: TrimmedListOrEmpty = Field(default_factory=list)
    homepage: str | None = None
    nsfw: bool
    style: Annotated[str | None, BeforeValidator(_trim)] = None
    requirements: ParamMap | None = None

    @field_validator("baseline")
    @classmethod
    def _known_baseline(cls, value: str) -> str:
        # Aliases are accepted and stored as sent (upstream does not normalise them).
        if value not in BASELINE_ALIASES:
            raise PydanticCustomError(
                "unknown_baseline", "Unknown baseline: {value}", {"value": value}
            )
        return value

    @field_validator("style")
    @classmethod
    def _known_style(cls, value: str | None) -> str | None:
        if value is not None and value not in MODEL_STYLE.__members__.values():
            raise PydanticCustomError("unknown_style", "Unknown style: {value}", {"value": value})
        return value


def _parameter_count(value: object) -> object:
    """Accept integral floats and numeric strings (CSV and JSON clients send both); no bools."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be an integer, not a boolean")
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise PydanticCustomError(
                    "int_parsing", "Input should be an integer, got {value}", {"value": text}
                ) from None
    if isinstance(value, float):
        if not value.is_integer():
            raise PydanticCustomError(
                "int_from_float", "Input should be a whole number, got {value}", {"value": value}
            )
        return int(value)
    return value


class TextGenerationRecord(RecordBase):
    """An LLM. Stored under its base name only; backend variants are derived (see text_variants)."""

    CATEGORY: ClassVar[Category] = Category.text_generation

    baseline: str | None = None
    parameters: Annotated[int, BeforeValidator(_parameter_count)] = Field(
        gt=0, validation_alias=AliasChoices("parameters", "parameters_count")
    )
    nsfw: bool = False
    style: str | None = None
    display_name: str | None = None
    url: str | None = None
    tags: TrimmedList | None = None
    instruct_format: str | None = None
    settings: Annotated[ParamMap | None, BeforeValidator(parse_json_object)] = None
    text_model_group: str | None = None
    name_schema_exception: str | None = None

    @field_validator("name")
    @classmethod
    def _text_name(cls, value: str) -> str:
        problem = text_name_problem(value)
        if problem is not None:
            raise PydanticCustomError("text_model_name", problem)
        return value

    @field_validator("settings")
    @classmethod
    def _known_settings(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        unknown = sorted(set(value or ()) - TEXT_SETTINGS_KEYS)
        if unknown:
            raise PydanticCustomError(
                "unknown_setting",
                "unknown key(s) {unknown}; allowed: {allowed}",
                {"unknown": ", ".join(unknown), "allowed": ", ".join(sorted(TEXT_SETTINGS_KEYS))},
            )
        return value

    @model_validator(mode="after")
    def _fill_group(self) -> TextGenerationRecord:
        # Upstream fills the group at enqueue; doing it here means every write path gets it.
        if not self.text_model_group:
            self.text_model_group = text_model_group(self.name)
        return self


class _MediaGenerationRecord(RecordBase):
    baseline: str | None = None
    nsfw: bool = False
    tags: TrimmedList | None = None


class VideoGenerationRecord(_MediaGenerationRecord):
    CATEGORY: ClassVar[Category] = Category.video_generation


class AudioGenerationRecord(_MediaGenerationRecord):
    CATEGORY: ClassVar[Category] = Category.audio_generation


class _AuxiliaryRecord(RecordBase):
    baseline: str | None = None
    nsfw: bool = False
    tags: TrimmedList | None = None
    trigger: TrimmedList | None = None
    homepage: str | None = None
    showcases: TrimmedList | None = None


class LoraRecord(_AuxiliaryRecord):
    CATEGORY: ClassVar[Category] = Category.lora


class TiRecord(_AuxiliaryRecord):
    CATEGORY: ClassVar[Category] = Category.ti


#: The record type of every category.
RECORD_TYPES: dict[Category, type[RecordBase]] = {
    cls.CATEGORY: cls
    for cls in (
        BlipRecord,
        ClipRecord,
        CodeformerRecord,
        ControlnetRecord,
        ControlnetAnnotatorRecord,
        EsrganRecord,
        GfpganRecord,
        SafetyCheckerRecord,
        ImageGenerationRecord,
        TextGenerationRecord,
        VideoGenerationRecord,
        AudioGenerationRecord,
        MiscellaneousRecord,
        LoraRecord,
        TiRecord,
    )
}


# --- entry points -----------------------------------------------------------------------------


def check_model_name(name: str) -> str:
    """Return ``name`` unchanged, or raise ``ValidationFailed`` if it breaks the name rules."""
    if not isinstance(name, str):
        raise ValidationFailed("Model name must be a string.")
    problem = name_problem(name)
    if problem is not None:
        raise ValidationFailed(problem)
    return name


def _describe(exc: ValidationError) -> str:
    """One line per problem, each starting with the dotted path of the field at fault."""
    lines = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in ("payload", *error["loc"]))
        lines.append(f"{path}: {error['msg']}")
    return "; ".join(lines)


def validate_record(
    category: Category, payload: object, *, name: str | None = None
) -> dict[str, Any]:
    """Validate a proposed v2 record of ``category`` and return its normalized JSON form.

    The result drops nulls, uses field names (``parameters``, never ``parameters_count``) and
    always carries ``record_type`` and the category defaults. ``name``, when given (the model
    named by the URL or the queue entry), must equal the payload's ``name``.
    """
    if not isinstance(payload, dict):
        raise ValidationFailed("payload must be a JSON object")
    record_type = RECORD_TYPES[Category(category)]
    try:
        record = record_type.model_validate(payload)
    except ValidationError as exc:
        raise ValidationFailed(_describe(exc)) from None
    if name is not None and record.name != name:
        raise ValidationFailed(
            f"payload.name: {record.name!r} does not match the model name {name!r}"
        )
    return record.model_dump(mode="json", exclude_none=True)


def record_warnings(category: Category, record: dict[str, Any]) -> list[str]:
    """Soft problems of a valid record that reviewers should see but that do not block it."""
    warnings: list[str] = []
    if Category(category) is Category.controlnet:
        style = record.get("controlnet_style")
        if style is not None and style not in CONTROLNET_STYLE.__members__.values():
            warnings.append(f"controlnet_style: unknown controlnet style {style!r}")
    return warnings
