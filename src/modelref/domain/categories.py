"""Model categories, operations and the per-category facts every layer shares."""

from __future__ import annotations

from enum import StrEnum


class MODEL_REFERENCE_CATEGORY(StrEnum):  # upstream's public name
    """Every category of the model reference, in upstream's enum order."""

    blip = "blip"
    clip = "clip"
    codeformer = "codeformer"
    controlnet = "controlnet"
    controlnet_annotator = "controlnet_annotator"
    esrgan = "esrgan"
    gfpgan = "gfpgan"
    safety_checker = "safety_checker"
    image_generation = "image_generation"
    text_generation = "text_generation"
    video_generation = "video_generation"
    audio_generation = "audio_generation"
    miscellaneous = "miscellaneous"
    lora = "lora"
    ti = "ti"


class AuditOperation(StrEnum):
    """What a change does to its model (upstream's member names; wire values are lower case)."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


Category = MODEL_REFERENCE_CATEGORY

#: Categories upstream says are "managed elsewhere": hidden from the v2 category list.
MANAGED_ELSEWHERE: frozenset[Category] = frozenset({Category.lora, Category.ti})

#: v2 file name per category (image_generation keeps its historical name).
V2_FILE_NAMES: dict[Category, str] = {
    c: ("stable_diffusion.json" if c is Category.image_generation else f"{c.value}.json")
    for c in Category
}

#: Categories that have a legacy (GitHub JSON / CSV) form.
LEGACY_CATEGORIES: frozenset[Category] = frozenset(
    {
        Category.blip,
        Category.clip,
        Category.codeformer,
        Category.controlnet,
        Category.esrgan,
        Category.gfpgan,
        Category.safety_checker,
        Category.image_generation,
        Category.text_generation,
        Category.miscellaneous,
    }
)

#: Default ``model_classification`` (domain, purpose) per category.
DEFAULT_CLASSIFICATION: dict[Category, tuple[str, str]] = {
    Category.blip: ("image", "feature_extractor"),
    Category.clip: ("image", "feature_extractor"),
    Category.codeformer: ("image", "post_processing"),
    Category.controlnet: ("image", "auxiliary_or_patch"),
    Category.controlnet_annotator: ("image", "auxiliary_or_patch"),
    Category.esrgan: ("image", "post_processing"),
    Category.gfpgan: ("image", "post_processing"),
    Category.safety_checker: ("image", "safety_checker"),
    Category.image_generation: ("image", "generation"),
    Category.text_generation: ("text", "generation"),
    Category.video_generation: ("video", "generation"),
    Category.audio_generation: ("audio", "generation"),
    Category.miscellaneous: ("image", "miscellaneous"),
    Category.lora: ("image", "auxiliary_or_patch"),
    Category.ti: ("image", "auxiliary_or_patch"),
}

_UTILITY_CRITICAL = ("style", "nsfw")

#: Fields whose change makes a diff "critical" (spec queue-semantics §9).
CRITICAL_FIELDS: dict[Category, tuple[str, ...]] = {
    Category.image_generation: ("baseline", "nsfw", "inpainting", "trigger", "homepage"),
    Category.text_generation: ("baseline", "nsfw", "url", "parameters"),
    **{
        c: _UTILITY_CRITICAL
        for c in (
            Category.controlnet,
            Category.blip,
            Category.clip,
            Category.codeformer,
            Category.esrgan,
            Category.gfpgan,
            Category.safety_checker,
        )
    },
}

TEXT_BACKEND_PREFIXES: tuple[str, ...] = ("aphrodite/", "koboldcpp/")


def parse_category(value: str) -> Category:
    """Return the category named ``value`` or raise ``ValueError`` naming the valid ones."""
    try:
        return Category(value)
    except ValueError:
        valid = ", ".join(c.value for c in Category)
        raise ValueError(f"Unknown category {value!r}; expected one of: {valid}") from None
