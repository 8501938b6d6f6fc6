"""The scene-style jobs that `train-scene-encoder` / `evaluate-scene` and their flow share.

Owns `label_embeddings(clip_model, offline)`: the CLIP text embeddings of the controlled scene
names a scene run trains on (None: fixed label vectors), and `evaluate_scene(run, out, ...)`:
the with/without-scene report, the alpha sweep PNG and the encoder-vs-text table of a
train-scene-encoder run (`models.scene.evaluate`). Input that stops a job (not a scene run,
alphas out of range, a model that does not load) is a `SceneJobError` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storage.errors import UserInputError


class SceneJobError(UserInputError):
    """A scene run, setting or model a scene-style job cannot use; the message names it."""


def label_embeddings(clip_model: str | None, offline: bool):
    """CLIP text embeddings of the controlled scene names, or None (fixed label vectors)."""
    if not clip_model:
        return None
    from extract.scene_labels.model_loading import SceneModelError
    from flows.jobs.scene_style_inputs import clip_label_embeddings
    from models.scene.data import CONTROLLED_SCENE_STYLES

    try:
        return clip_label_embeddings(tuple(CONTROLLED_SCENE_STYLES), clip_model, offline)
    except SceneModelError as error:
        raise SceneJobError(str(error)) from error


@dataclass(frozen=True)
class EvaluateSceneConfig:
    """What `stylemotion evaluate-scene` builds from `--config`/`--set` and its flags."""

    run: str
    out: str | None = None  # default RUN/eval
    text_model: str | None = None  # the scene-as-text ablation's model
    offline: bool = False
    alphas: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)  # DEFAULT_ALPHAS
    report_alpha: float = 1.0


def evaluate_scene_config(config: EvaluateSceneConfig) -> dict:
    """`evaluate_scene` of a config; the report as a dict."""
    out = Path(config.out) if config.out else None
    return evaluate_scene(
        config.run, out, config.text_model, config.offline, config.alphas, config.report_alpha
    )


def evaluate_scene(run: str, out: Path | None, text_model: str | None, offline: bool,
                   alphas: tuple[float, ...], report_alpha: float) -> dict:  # fmt: skip
    """Evaluate the scene run `run` into `out` (default RUN/eval); the report as a dict."""
    from extract.scene_labels.model_loading import SceneModelError
    from models.scene.condition import ALPHA_MAX
    from models.scene.encoder import SCENE_CHECKPOINT_NAME, SceneCheckpointError
    from models.scene.evaluate import evaluate_scene_run

    if not (Path(run) / SCENE_CHECKPOINT_NAME).is_file():
        raise SceneJobError(f"{run}: no {SCENE_CHECKPOINT_NAME} (not a train-scene-encoder run)")
    if any(not 0 <= a <= ALPHA_MAX for a in alphas) or report_alpha not in alphas:
        raise SceneJobError(f"alphas must lie in [0, {ALPHA_MAX}] and include --report-alpha")
    embed, description = None, ""
    if text_model:
        from flows.jobs.scene_style_inputs import text_embed_function

        try:
            embed, description = text_embed_function(text_model, offline)
        except SceneModelError as error:
            raise SceneJobError(str(error)) from error
    out_dir = out or Path(run) / "eval"
    try:
        return evaluate_scene_run(Path(run), out_dir, embed, description, alphas, report_alpha)
    except (SceneCheckpointError, ValueError) as error:
        raise SceneJobError(str(error)) from error
