"""Building blocks of v2 records: enums, known values, reusable field types, common fields.

The per-category record types live in :mod:`modelref.domain.records`; this module holds what
they share so that module stays readable. Enum strings and field names are wire facts
(spec data-model §2-3) and must not be renamed.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from modelref.domain.categories import DEFAULT_CLASSIFICATION, Category
from modelref.domain.inputs import BIDI_AND_INVISIBLE, text_problem

#: Longest model name the catalog stores (its column width, on every engine).
MAX_NAME = 512


class MODEL_DOMAIN(StrEnum):
    """What kind of data a model works on."""

    image = "image"
    text = "text"
    video = "video"
    audio = "audio"
    rendered_3d = "rendered_3d"


class MODEL_PURPOSE(StrEnum):
    """What a model is used for."""

    generation = "generation"
    post_processing = "post_processing"
    auxiliary_or_patch = "auxiliary_or_patch"
    feature_extractor = "feature_extractor"
    safety_checker = "safety_checker"
    miscellaneous = "miscellaneous"


class MODEL_STYLE(StrEnum):
    """Allowed ``style`` values of image_generation records."""

    generalist = "generalist"
    anime = "anime"
    furry = "furry"
    artistic = "artistic"
    other = "other"
    realistic = "realistic"


class CONTROLNET_STYLE(StrEnum):
    """Known controlnet styles; unknown ones are allowed but reported as warnings."""

    control_seg = "control_seg"
    control_scribble = "control_scribble"
    control_fakescribbles = "control_fakescribbles"
    control_openpose = "control_openpose"
    control_normal = "control_normal"
    control_mlsd = "control_mlsd"
    control_hough = "control_hough"
    control_hed = "control_hed"
    control_canny = "control_canny"
    control_depth = "control_depth"
    control_qr = "control_qr"
    control_qr_xl = "control_qr_xl"
    control_lineart = "control_lineart"
    control_lineart_anime = "control_lineart_anime"
    control_normal_bae = "control_normal_bae"
    control_recolor = "control_recolor"
    control_tile = "control_tile"


#: Image baselines, in upstream's order.
KNOWN_BASELINES: tuple[str, ...] = (
    "infer",
    "stable_diffusion_1",
    "stable_diffusion_2_768",
    "stable_diffusion_2_512",
    "stable_diffusion_xl",
    "stable_cascade",
    "flux_1",
    "flux_schnell",
    "flux_dev",
    "qwen_image",
    "z_image_turbo",
)

_ALIASES: dict[str, tuple[str, ...]] = {
    "stable_diffusion_1": (
        "stable diffusion 1",
        "stable diffusion 1.4",
        "stable diffusion 1.5",
        "SD1",
        "SD14",
        "SD1.4",
        "SD15",
        "SD1.5",
        "stable_diffusion",
        "stable_diffusion_1.4",
        "stable_diffusion_1.5",
    ),
    "stable_diffusion_xl": ("stable diffusion xl", "SDXL"),
    "stable_cascade": ("stable cascade",),
    "flux_schnell": ("flux schnell",),
    "flux_dev": ("flux dev",),
    "qwen_image": ("qwen image", "qwen-image", "qwen"),
    "z_image_turbo": ("z image turbo", "zimage-turbo", "zimage"),
}

#: Every accepted image ``baseline`` spelling (case-sensitive) -> the baseline it stands for.
#: Aliases are accepted on input but stored as sent.
BASELINE_ALIASES: dict[str, str] = {
    **{b: b for b in KNOWN_BASELINES},
    **{alias: b for b, aliases in _ALIASES.items() for alias in aliases},
}

#: Keys allowed in a text record's ``settings`` (the legacy text repo's generation_params).
TEXT_SETTINGS_KEYS: frozenset[str] = frozenset(
    {
        "n",
        "frmtadsnsp",
        "frmtrmblln",
        "frmtrmspch",
        "frmttriminc",
        "max_context_length",
        "max_length",
        "rep_pen",
        "rep_pen_range",
        "rep_pen_slope",
        "singleline",
        "temperature",
        "tfs",
        "top_a",
        "top_k",
        "top_p",
        "typical",
        "sampler_order",
        "use_default_badwordsids",
        "stop_sequence",
        "min_p",
        "smoothing_factor",
        "dynatemp_range",
        "dynatemp_exponent",
    }
)

SCHEMA_VERSION = "2.0.0"


def name_problem(name: str) -> str | None:
    """Why ``name`` breaks the name rules (spec data-model §9), or ``None`` when it is fine.

    modelref also refuses what upstream lets through but no reader should see: names longer
    than the catalog stores, and characters that reorder or hide text (spoofing).
    """
    if not name.strip():
        return "Model name must not be empty or whitespace-only."
    if len(name) > MAX_NAME:
        return f"Model name must be at most {MAX_NAME} characters."
    if "\\" in name:
        return "Model name must not contain invalid characters (backslash '\\')."
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "Model name must not contain control characters."
    if any(ch in BIDI_AND_INVISIBLE for ch in name):
        return "Model name must not contain invisible or text-direction characters."
    if text_problem(name) is not None:
        return "Model name must be valid Unicode (no lone surrogates)."
    return None


# --- reusable field types -------------------------------------------------------------------


def _refuse_bool(value: object) -> object:
    # pydantic's lax mode turns True into 1; a flag is never a count or a timestamp.
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be an integer, not a boolean")
    return value


def _trim_items(value: object) -> object:
    if isinstance(value, list):
        return [item.strip() if isinstance(item, str) else item for item in value]
    return value


def _null_to_empty(value: object) -> object:
    return [] if value is None else _trim_items(value)


#: An integer that refuses booleans.
Int = Annotated[int, BeforeValidator(_refuse_bool)]
#: A list of strings whose items are trimmed; null stays null.
TrimmedList = Annotated[list[str], BeforeValidator(_trim_items)]
#: A list of strings whose items are trimmed; null becomes ``[]``.
TrimmedListOrEmpty = Annotated[list[str], BeforeValidator(_null_to_empty)]


def _is_scalar(value: object) -> bool:
    return isinstance(value, bool | int | float | str)


def check_param_map(value: object) -> object:
    """Check a ``requirements``/``settings`` map: values are scalars or lists of non-bool scalars.

    Written by hand so the error names the offending key instead of pydantic's five-way union
    report.
    """
    if value is None or not isinstance(value, dict):
        return value
    for key, item in value.items():
        ok = _is_scalar(item) or (
            isinstance(item, list) and all(_is_scalar(x) and not isinstance(x, bool) for x in item)
        )
        if not ok:
            raise PydanticCustomError(
                "param_value",
                "value of '{key}' must be a number, string, boolean or a list of numbers/strings",
                {"key": key},
            )
    return value


ParamMap = Annotated[dict[str, Any], BeforeValidator(check_param_map)]


def parse_json_object(value: object) -> object:
    """Accept a JSON object given as a string (the legacy text CSV stores settings that way)."""
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else None
        except json.JSONDecodeError:
            raise PydanticCustomError(
                "json_object", "must be an object or a JSON object string"
            ) from None
    return value


# --- common sub-objects ---------------------------------------------------------------------


class _Strictish(BaseModel):
    """Unknown keys are dropped (upstream v2 behaviour outside its testing mode)."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class DownloadRecord(_Strictish):
    """One file a worker downloads; ``file_purpose`` null means the primary file."""

    file_name: str
    file_url: str
    sha256sum: str = "FIXME"
    content_hash: str | None = None
    file_purpose: str | None = None
    known_slow_download: bool | None = None
    size_bytes: Int | None = None


class DownloadConfig(_Strictish):
    """Files and embedded component hashes of a model."""

    download: list[DownloadRecord] = Field(default_factory=list)
    embedded_component_hashes: dict[str, str] | None = None


class FinetuneSeries(_Strictish):
    """The family a finetune belongs to."""

    name: str
    version: str | None = None
    author: str | None = None
    description: str | None = None
    homepage: str | None = None


class RecordMetadata(_Strictish):
    """Bookkeeping maintained by the server; timestamps are Unix seconds."""

    schema_version: str = SCHEMA_VERSION
    created_at: Int | None = None
    updated_at: Int | None = None
    created_by: str | None = None
    updated_by: str | None = None


class ModelClassification(_Strictish):
    """Domain and purpose; both are strict enums (an unknown value is an error)."""

    domain: MODEL_DOMAIN
    purpose: MODEL_PURPOSE


class RecordBase(_Strictish):
    """Fields every v2 record has (spec data-model §3).

    Subclasses set ``CATEGORY``; it supplies the defaults of ``record_type`` and
    ``model_classification`` and is what ``record_type`` is checked against (W16).
    """

    CATEGORY: ClassVar[Category]

    record_type: str | None = None
    name: str
    description: str | None = None
    version: str | None = None
    finetune_series: FinetuneSeries | None = None
    metadata: RecordMetadata = Field(default_factory=RecordMetadata)
    config: DownloadConfig = Field(default_factory=DownloadConfig)
    model_classification: ModelClassification | None = None
    size_on_disk_bytes: Int | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        problem = name_problem(value)
        if problem is not None:
            raise PydanticCustomError("model_name", problem)
        return value

    @field_validator("record_type")
    @classmethod
    def _check_record_type(cls, value: str | None) -> str | None:
        if value is not None and value != cls.CATEGORY.value:
            raise PydanticCustomError(
                "record_type_mismatch",
                "'{got}' does not match the category '{want}'",
                {"got": value, "want": cls.CATEGORY.value},
            )
        return value

    @model_validator(mode="after")
    def _fill_category_defaults(self) -> RecordBase:
        if self.record_type is None:
            self.record_type = self.CATEGORY.value
        if self.model_classification is None:
            domain, purpose = DEFAULT_CLASSIFICATION[self.CATEGORY]
            self.model_classification = ModelClassification(
                domain=MODEL_DOMAIN(domain), purpose=MODEL_PURPOSE(purpose)
            )
        return self
