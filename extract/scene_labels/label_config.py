"""`SceneLabelConfig`: every setting of scene labelling, validated; also the Prefect flow's input.

Owns the settings and their resolution against the environment (`resolve_scene_config`: the
model settings fall back to `$STYLEMOTION_SCENE_MODEL` / `$STYLEMOTION_CAPTION_MODEL`, offline
mode to `HF_HUB_OFFLINE`), so shard tasks receive explicit, picklable settings. Import it from
`extract.scene_labels.labelling`, which re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from extract.scene_labels.keyframes import PersonMode
from extract.scene_labels.model_loading import (
    CAPTION_MODEL_ENV,
    CLIP_MODEL_ENV,
    CLIP_SETTING,
    SceneModelError,
    model_setting,
    offline_mode,
)
from extract.scene_labels.vocab import DEFAULT_SCENES, DEFAULT_TEMPLATES, SceneVocabulary
from storage.errors import UserInputError

MAX_KEYFRAMES = 16


class SceneConfigError(UserInputError, ValueError):
    """Scene-labelling settings that contradict each other or are out of range."""


@dataclass(frozen=True)
class SceneLabelConfig:
    """Settings of `stylemotion label-scenes`.

    clip_model / caption_model: `local-dir:DIR`, a directory, `hf-hub:ORG/REPO` (CLIP) or a
    transformers hub id / directory (caption); None: the environment settings. The CLIP model
    is always needed: with `zero_shot` off its text tower still maps captions onto the
    vocabulary. Captions run when `captions` is on and a caption model is set.
    unknown_threshold: a clip whose top probability is below this is labelled `unknown`.
    person_mode: `blur`, `mask` or `none` for the tracked person's box on each keyframe.
    replace: after labelling, remove the scene shards of every other labeller.
    """

    root: str
    clip_model: str | None = None
    caption_model: str | None = None
    zero_shot: bool = True
    captions: bool = True
    scenes: tuple[str, ...] = DEFAULT_SCENES
    templates: tuple[str, ...] = DEFAULT_TEMPLATES
    unknown_threshold: float = 0.25
    num_keyframes: int = 3
    person_mode: str = PersonMode.BLUR.value
    keyframe_long_side: int = 384
    store_keyframes: bool = True
    batch_size: int = 32
    caption_prompt: str | None = None
    caption_max_new_tokens: int = 24
    device: str | None = None
    offline: bool = False
    replace: bool = False

    def __post_init__(self) -> None:
        vocabulary = SceneVocabulary(tuple(self.scenes), tuple(self.templates))
        object.__setattr__(self, "scenes", vocabulary.scenes)
        object.__setattr__(self, "templates", vocabulary.templates)
        object.__setattr__(self, "person_mode", PersonMode(self.person_mode).value)
        if not 0.0 <= self.unknown_threshold <= 1.0:
            raise SceneConfigError(f"unknown_threshold outside [0, 1]: {self.unknown_threshold}")
        if not 1 <= self.num_keyframes <= MAX_KEYFRAMES:
            raise SceneConfigError(f"num_keyframes not in 1..{MAX_KEYFRAMES}: {self.num_keyframes}")
        if self.keyframe_long_side < 64 or self.batch_size < 1 or self.caption_max_new_tokens < 1:
            raise SceneConfigError("keyframe_long_side >= 64, batch_size and tokens >= 1")

    @property
    def vocabulary(self) -> SceneVocabulary:
        return SceneVocabulary(self.scenes, self.templates)


def resolve_scene_config(config: SceneLabelConfig) -> SceneLabelConfig:
    """The config with model settings and offline mode taken from the environment if unset."""
    clip_model = model_setting(config.clip_model, CLIP_MODEL_ENV)
    if clip_model is None:
        raise SceneModelError(
            f"no CLIP model set: set {CLIP_SETTING} (e.g. local-dir:/models/clip-vit-b-32 or "
            "hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K); see docs/SCENES.md"
        )
    caption_model = model_setting(config.caption_model, CAPTION_MODEL_ENV)
    caption_model = caption_model if config.captions else None
    if not config.zero_shot and caption_model is None:
        raise SceneConfigError(
            "nothing to do: CLIP zero-shot is off and no caption model is set "
            f"(--caption-model / {CAPTION_MODEL_ENV})"
        )
    return replace(
        config,
        clip_model=clip_model,
        caption_model=caption_model,
        captions=caption_model is not None,
        offline=offline_mode(config.offline),
    )
