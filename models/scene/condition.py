"""Scene conditioning for stylization: a scene label or embedding -> the style-slot vector.

Owns what `stylemotion stylize --scene ... --scene-weight ALPHA` calls: `load_scene_run`
(a train-scene-encoder run with its frozen encoder, checked against the diffusion run's
encoder checksum) and `scene_vector`, which returns `v (Ds,)` such that

    style + alpha * v == fuse(style, z_scene, alpha)      (unit length, the run's fusion rule)

so `StyleCondition(style, parts, desc, scene=v, scene_weight=alpha).vectors()` feeds the
diffusion adaptor the fused z_cond unchanged (additive runs: `normalize(z_s + alpha z_scene)`;
concat runs: their learned fusion). z_scene reads the *source* motion's backbone features (the
mean over its windows) and the scene input: a label of the run's vocabulary, or a CLIP image
embedding `(E,)` (computed in `extract.scene_labels.query`, resolved by
`flows.jobs.scene_style_inputs`).
Every refusal is a `SceneConditionError` naming the input: unknown label, an embedding that is
blank/non-finite/of the wrong width, an embedding given to a run trained on fixed label vectors,
alpha outside [0, ALPHA_MAX], a run trained without scenes, a mismatched encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from models.diffusion.motion_repr import to_local_window
from models.encoders.features import FeatureConfig
from models.encoders.run import EncoderRun, load_encoder_run
from models.scene.data import encode_windows
from models.scene.encoder import (
    SCENE_CHECKPOINT_NAME,
    SceneCheckpoint,
    SceneCheckpointError,
    load_scene_checkpoint,
)

ALPHA_MAX = 2.0
MIN_EMBEDDING_NORM = 1e-6


class SceneConditionError(ValueError):
    """A scene condition cannot be built; the message names the input and the reason."""


@dataclass
class SceneRun:
    path: Path
    checkpoint: SceneCheckpoint
    encoder: EncoderRun

    @property
    def scenes(self) -> tuple[str, ...]:
        return self.checkpoint.scenes

    @property
    def accepts_embeddings(self) -> bool:
        """True when the scene inputs were CLIP vectors (an image embedding shares the space)."""
        return self.checkpoint.embedding_source.startswith("clip-")


def load_scene_run(
    run_dir: str | Path, device: str = "cpu", encoder_checksum: str | None = None
) -> SceneRun:
    """The scene run at `run_dir`; `encoder_checksum` (the diffusion run's) must match."""
    run_dir = Path(run_dir)
    path = run_dir / SCENE_CHECKPOINT_NAME
    if not path.is_file():
        kind = "a run" if (run_dir / "last.pt").is_file() else "no run"
        raise SceneConditionError(
            f"{run_dir} is {kind} trained without scenes (no {SCENE_CHECKPOINT_NAME}); scene "
            "conditioning needs a `stylemotion train-scene-encoder` run"
        )
    try:
        checkpoint = load_scene_checkpoint(path)
        encoder = load_encoder_run(checkpoint.encoder_run, device)
        checkpoint = load_scene_checkpoint(path, encoder.checksum)
    except (SceneCheckpointError, FileNotFoundError, ValueError) as error:
        raise SceneConditionError(str(error)) from error
    if encoder_checksum is not None and encoder_checksum != checkpoint.encoder_checksum:
        raise SceneConditionError(
            f"{run_dir}: scene encoder built on encoder {checkpoint.encoder_checksum[:12]}, the "
            f"diffusion run uses {encoder_checksum[:12]} (mismatched encoder run)"
        )
    checkpoint.head.to(device)
    return SceneRun(run_dir, checkpoint, encoder)


def check_alpha(alpha: float) -> float:
    if not (np.isfinite(alpha) and 0.0 <= alpha <= ALPHA_MAX):
        raise SceneConditionError(f"scene weight alpha {alpha} outside [0, {ALPHA_MAX}]")
    return float(alpha)


def scene_embedding(run: SceneRun, scene: str | np.ndarray) -> Tensor:
    """The unit scene input `(E,)` of a label or of a (CLIP image) embedding."""
    checkpoint = run.checkpoint
    if isinstance(scene, str):
        if scene not in checkpoint.scenes:
            raise SceneConditionError(
                f"unknown scene {scene!r}; {run.path} knows {list(checkpoint.scenes)}"
            )
        return checkpoint.embeddings[checkpoint.scenes.index(scene)].float()
    if not run.accepts_embeddings:
        raise SceneConditionError(
            f"{run.path} was trained on {checkpoint.embedding_source} label vectors, so it "
            f"takes only scene labels {list(checkpoint.scenes)}, not images or videos"
        )
    vector = np.asarray(scene, dtype=np.float32)
    width = checkpoint.head.config.embedding_dim
    if vector.shape != (width,) or not np.isfinite(vector).all():
        raise SceneConditionError(f"scene embedding of shape {vector.shape} is not ({width},)")
    if float(np.linalg.norm(vector)) < MIN_EMBEDDING_NORM:
        raise SceneConditionError("scene image has no usable embedding (all-zero vector)")
    return F.normalize(torch.as_tensor(vector), dim=0)


def source_windows(features: FeatureConfig, positions: np.ndarray) -> np.ndarray:
    """Local windows `(N, W, J, 3)` of source positions `(T, J, 3)` (short: last frame held)."""
    width, stride = features.window_frames, features.stride_frames
    if len(positions) < width:
        positions = np.concatenate(
            [positions, np.repeat(positions[-1:], width - len(positions), 0)]
        )
    starts = range(0, len(positions) - width + 1, stride)
    return np.stack([to_local_window(positions[s : s + width])[0] for s in starts]).astype(
        np.float32
    )


@torch.no_grad()
def scene_vector(
    run: SceneRun,
    source_positions: np.ndarray,
    scene: str | np.ndarray,
    alpha: float,
    style: Tensor,
) -> Tensor:
    """`v (Ds,)` with `style + alpha * v` = the fused unit z_cond (module doc).

    `source_positions (T, J, 3)` world positions of the clip to stylize, `scene` a label or an
    embedding `(E,)`, `style (Ds,)` the condition's global style (`StyleCondition.style`).
    """
    alpha = check_alpha(alpha)
    if source_positions.ndim != 3 or len(source_positions) == 0:
        raise SceneConditionError(
            f"source positions must be (T, J, 3), got {source_positions.shape}"
        )
    embedding = scene_embedding(run, scene)
    head = run.checkpoint.head
    device = next(head.parameters()).device
    pooled = encode_windows(run.encoder, source_windows(run.encoder.features, source_positions))[
        "pooled"
    ]
    z_scene = head.forward_pooled(pooled.to(device), embedding.to(device).expand(len(pooled), -1))
    z_scene = F.normalize(z_scene.mean(0), dim=0)  # (Ds,)
    style = style.float().to(device)
    if alpha == 0.0:
        return torch.zeros_like(style).cpu()
    fused = head.fuse(style[None], z_scene[None], torch.tensor([alpha], device=device))[0]
    return ((fused - style) / alpha).cpu()  # (Ds,)
