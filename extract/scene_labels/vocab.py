"""The scene vocabulary: which places a clip can be labelled with, and the prompts that name them.

Owns the default vocabulary (20 common places people are filmed moving in), the default CLIP
prompt templates (each holds `{}` for the scene name, in the style of CLIP's zero-shot
prompts), loading a user's vocabulary from a file, and validation. A file is either plain text
(one scene per line, `#` comments) or YAML: a list of scenes, or a mapping with `scenes:` and
optional `templates:`. Empty entries, duplicates (compared case- and space-insensitively) and
the reserved label `unknown` are refused by name, so a typo cannot silently split a label.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from storage.errors import UserInputError
from storage.scene_records import UNKNOWN_SCENE

DEFAULT_SCENES: tuple[str, ...] = (
    "street",
    "park",
    "office",
    "home interior",
    "stage",
    "gym",
    "dance studio",
    "sports field",
    "beach",
    "snow",
    "forest",
    "shopping mall",
    "restaurant",
    "classroom",
    "parking lot",
    "train station",
    "concert crowd",
    "swimming pool",
    "mountain trail",
    "plain studio backdrop",
)
DEFAULT_TEMPLATES: tuple[str, ...] = (
    "a photo of a {}.",
    "a video frame of people in a {}.",
    "a blurry photo taken in a {}.",
    "a wide shot of a {}.",
)


class VocabularyError(UserInputError, ValueError):
    """A scene vocabulary or template list that cannot be used; the message names the entry."""


@dataclass(frozen=True)
class SceneVocabulary:
    """Scene names (the labels) and CLIP prompt templates, validated on construction."""

    scenes: tuple[str, ...] = DEFAULT_SCENES
    templates: tuple[str, ...] = DEFAULT_TEMPLATES

    def __post_init__(self) -> None:
        object.__setattr__(self, "scenes", validate_scenes(self.scenes))
        object.__setattr__(self, "templates", validate_templates(self.templates))

    def prompts(self, scene: str) -> list[str]:
        return [template.format(scene) for template in self.templates]


def _normalised(entry: str) -> str:
    return " ".join(entry.split()).casefold()


def validate_scenes(scenes: Iterable[object], where: str = "scene vocabulary") -> tuple[str, ...]:
    """The scenes, stripped; refuses empty, duplicate, non-text and reserved entries."""
    cleaned: list[str] = []
    seen: dict[str, int] = {}
    for position, entry in enumerate(scenes, start=1):
        if not isinstance(entry, str):
            raise VocabularyError(f"{where}: entry {position} is {entry!r}, not text")
        scene = " ".join(entry.split())
        if not scene:
            raise VocabularyError(f"{where}: entry {position} is empty")
        key = _normalised(scene)
        if key == UNKNOWN_SCENE:
            raise VocabularyError(f"{where}: '{UNKNOWN_SCENE}' is reserved for low confidence")
        if key in seen:
            raise VocabularyError(
                f"{where}: '{scene}' (entry {position}) duplicates entry {seen[key]}"
            )
        seen[key] = position
        cleaned.append(scene)
    if len(cleaned) < 2:
        raise VocabularyError(f"{where}: needs at least 2 scenes, got {len(cleaned)}")
    return tuple(cleaned)


def validate_templates(templates: Iterable[object], where: str = "templates") -> tuple[str, ...]:
    """Prompt templates, each with exactly one `{}` placeholder; at least one."""
    cleaned = []
    for position, template in enumerate(templates, start=1):
        if not isinstance(template, str) or template.count("{}") != 1:
            raise VocabularyError(
                f"{where}: entry {position} ({template!r}) must be text with one '{{}}'"
            )
        cleaned.append(template)
    if not cleaned:
        raise VocabularyError(f"{where}: needs at least one template")
    if len({_normalised(t) for t in cleaned}) != len(cleaned):
        raise VocabularyError(f"{where}: holds duplicate templates")
    return tuple(cleaned)


def load_vocabulary(path: str | Path) -> SceneVocabulary:
    """Read a vocabulary file (text or YAML, see the module docstring)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise VocabularyError(f"{path}: cannot read the vocabulary file ({error})") from error
    if path.suffix.lower() not in (".yaml", ".yml"):
        # Plain text: blank and comment-only lines separate nothing and are skipped.
        lines = [line.split("#", 1)[0] for line in text.splitlines()]
        return SceneVocabulary(validate_scenes([ln for ln in lines if ln.strip()], str(path)))
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise VocabularyError(f"{path}: not valid YAML ({error})") from error
    if isinstance(document, list):
        return SceneVocabulary(validate_scenes(document, str(path)))
    if not isinstance(document, dict) or "scenes" not in document:
        raise VocabularyError(f"{path}: expected a list of scenes or a mapping with 'scenes:'")
    unknown_keys = set(document) - {"scenes", "templates"}
    if unknown_keys:
        raise VocabularyError(f"{path}: unknown keys {sorted(unknown_keys)}")
    scenes = validate_scenes(document["scenes"] or [], f"{path} scenes")
    templates = document.get("templates") or DEFAULT_TEMPLATES
    return SceneVocabulary(scenes, validate_templates(templates, f"{path} templates"))
