"""Glue between the scene models (torch) and the scene inputs that need CLIP or a text model.

Owns what `models/` may not import: CLIP text embeddings of scene names for training
(`clip_label_embeddings`), the scene of `stylize --scene LABEL|IMAGE|VIDEO` as a label or a
CLIP image embedding (`resolve_scene`, with `extract.scene_labels.query`), the text embedder of the
scene-as-text ablation (`text_embed_function`), and the one call the stylize job makes,
`scene_style_vector`. A CLIP image embedding is only accepted by a run whose scene inputs came
from the same CLIP model (same weights fingerprint), otherwise the spaces would not match.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from torch import Tensor

from extract.scene_labels.clip_model import load_clip_scene_model
from extract.scene_labels.model_loading import CLIP_MODEL_ENV, SceneModelError, model_setting
from extract.scene_labels.query import SceneQueryError, embed_scene_file
from extract.scene_labels.text_model import load_text_embedder
from models.scene.condition import SceneConditionError, SceneRun, scene_vector
from models.scene.data import SceneEmbeddings
from models.scene.text import scene_description

CLIP_TEXT_PREFIX = "clip-text:"


def clip_label_embeddings(
    names: tuple[str, ...], clip_model: str, offline: bool = False
) -> SceneEmbeddings:
    """CLIP text embeddings of `scene_description(name)` per scene, with their model/version."""
    model = load_clip_scene_model(clip_model, offline)
    vectors = model.encode_texts([scene_description(name) for name in names])
    return SceneEmbeddings(names, vectors, f"{CLIP_TEXT_PREFIX}{clip_model}@{model.version}")


def _clip_spec_of(run: SceneRun, explicit: str | None) -> str:
    source = run.checkpoint.embedding_source
    spec = model_setting(explicit, CLIP_MODEL_ENV)
    if spec is None and source.startswith(CLIP_TEXT_PREFIX):
        spec = source[len(CLIP_TEXT_PREFIX) :].rsplit("@", 1)[0]
    if spec is None:
        raise SceneConditionError(
            f"a scene image needs the CLIP model of {run.path} (--clip-model)"
        )
    return spec


def resolve_scene(
    scene: str, run: SceneRun, clip_model: str | None = None, offline: bool = False
) -> str | np.ndarray:
    """A label of the run (returned as is) or an image/video path (its CLIP embedding)."""
    if scene in run.scenes or not Path(scene).exists():
        return scene  # unknown labels are refused by models.scene.condition, naming the known
    if not run.accepts_embeddings:
        raise SceneConditionError(
            f"{run.path} was trained on {run.checkpoint.embedding_source} label vectors: it "
            f"takes only scene labels {list(run.scenes)}, not the file {scene}"
        )
    try:
        model = load_clip_scene_model(_clip_spec_of(run, clip_model), offline)
        source = run.checkpoint.embedding_source
        if source.startswith(CLIP_TEXT_PREFIX) and not source.endswith(f"@{model.version}"):
            raise SceneConditionError(
                f"CLIP model {model.model_id} (version {model.version}) is not the one "
                f"{run.path} was trained with ({source})"
            )
        return embed_scene_file(scene, model)
    except (SceneQueryError, SceneModelError) as error:
        raise SceneConditionError(str(error)) from error


def scene_style_vector(
    run: SceneRun,
    source_positions: np.ndarray,
    scene: str,
    alpha: float,
    style: Tensor,
    clip_model: str | None = None,
) -> Tensor:
    """The scene slot `(Ds,)` of a `StyleCondition` for `--scene SCENE --scene-weight alpha`."""
    return scene_vector(run, source_positions, resolve_scene(scene, run, clip_model), alpha, style)


def text_embed_function(text_model: str | None, offline: bool = False):
    """(embed(texts) -> (N, E), model description) of the ablation's text model."""
    embedder = load_text_embedder(text_model, offline)
    embed: Callable[[list[str]], np.ndarray] = embedder.encode
    return embed, f"{embedder.model_id}@{embedder.version}"
