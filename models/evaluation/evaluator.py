"""The independent stylization evaluator: a temporal CNN with style and content heads, frozen.

Owns the judge of `stylemotion evaluate` (DESIGN "Models": trained separately, on a split the
encoders never saw, with a different architecture, never used in training or guidance). The
network is a 1-D convolution stack over per-frame features (pelvis-relative joint positions
and velocities in the facing frame plus root height, ground velocity and yaw rate), pooled
over time into a penultimate feature vector (the space of the Fréchet distance), with a style
head and a content head; nothing of the transformer encoders (`models.encoders.encoder`) is reused.

It is cross-fitted (see `models.evaluation.train_evaluator` and docs/EVALUATION.md): the checkpoint
holds two networks, each trained without one fold of the labelled (style, content) cells, and a clip
is always scored by the network that did not train on its cell. The checkpoint is written once
with its sha256 beside it (`evaluator.pt.sha256`); `load_evaluator` refuses a file whose hash,
format version or skeleton differ.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.common.checkpoint_io import load_weights_only, payload_kind
from models.encoders.features import finite_difference, local_motion, rotate_into_facing
from models.encoders.windows import LabelVocabulary
from storage.checksums import file_sha256
from storage.errors import UserInputError, cut_message, short_repr
from storage.skeleton import CANONICAL_FPS, NUM_JOINTS, SKELETON_NAME

logger = logging.getLogger(__name__)

EVALUATOR_FORMAT = 1
CHECKPOINT_NAME = "evaluator.pt"
FRAME_FEATURES = 2 * NUM_JOINTS * 3 + 3  # local positions, velocities, ground velocity + yaw rate


class EvaluatorError(ValueError, UserInputError):
    """The evaluator cannot score this input or cannot be loaded; the message says why."""


class EvaluatorChecksumError(EvaluatorError):
    """The checkpoint's bytes differ from the sha256 written beside it when it was frozen."""


@dataclass(frozen=True)
class EvaluatorNetConfig:
    """Network shape; saved in the checkpoint so `load_evaluator` rebuilds it without flags."""

    num_styles: int
    num_contents: int
    input_size: int = FRAME_FEATURES
    channels: tuple[int, ...] = (64, 96, 128)
    kernel_size: int = 5
    feature_dim: int = 32
    dropout: float = 0.2

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))


class EvaluatorNet(nn.Module):
    """Conv1d stack -> mean over time -> feature (B, D) -> style (B, S) and content (B, C)."""

    def __init__(self, config: EvaluatorNetConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = config.input_size
        for index, channels in enumerate(config.channels):
            stride = 1 if index == 0 else 2
            padding = config.kernel_size // 2
            layers += [
                nn.Conv1d(width, channels, config.kernel_size, stride=stride, padding=padding),
                nn.GroupNorm(8, channels),
                nn.GELU(),
                nn.Dropout(config.dropout),
            ]
            width = channels
        self.convs = nn.Sequential(*layers)
        self.project = nn.Sequential(nn.Linear(width, config.feature_dim), nn.GELU())
        self.style_head = nn.Linear(config.feature_dim, config.num_styles)
        self.content_head = nn.Linear(config.feature_dim, config.num_contents)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """frames (B, W, F) normalised -> (features (B, D), style logits, content logits)."""
        assert frames.ndim == 3 and frames.shape[2] == self.config.input_size, frames.shape
        hidden = self.convs(frames.transpose(1, 2))  # (B, C, W')
        features = self.project(hidden.mean(dim=2))  # (B, D)
        return features, self.style_head(features), self.content_head(features)


def evaluator_frame_features(positions: np.ndarray, fps: float = CANONICAL_FPS) -> np.ndarray:
    """Per-frame evaluator input `(T, FRAME_FEATURES)` float32 of positions `(T, J, 3)`.

    Joint positions relative to the pelvis ground point in the per-frame facing frame (J*3, the
    pelvis height among them), their velocities (J*3), then the forward and lateral ground
    speed of the pelvis and the yaw rate (3). Invariant to where the clip stands and faces.
    """
    motion = local_motion(positions, fps)  # facing frame, float64
    num_frames = motion.positions.shape[0]
    ground_velocity = finite_difference(motion.ground, fps)  # (T, 3)
    facing = rotate_into_facing(ground_velocity[:, None], motion.yaw)[:, 0]  # (T, 3)
    root = np.stack([facing[:, 2], facing[:, 0], finite_difference(motion.yaw, fps)], axis=-1)
    return np.concatenate(
        [
            motion.positions.reshape(num_frames, -1),  # (T, J*3)
            motion.velocities.reshape(num_frames, -1),  # (T, J*3)
            root,  # (T, 3)
        ],
        axis=1,
    ).astype(np.float32)


@dataclass(frozen=True)
class ClipScore:
    """The evaluator's reading of one clip: mean window probabilities and window features."""

    style_probs: np.ndarray  # (S,)
    content_probs: np.ndarray  # (C,)
    features: np.ndarray  # (N_windows, D)
    fold: int


class StyleEvaluator:
    """Frozen cross-fitted evaluator: two `EvaluatorNet`s, labels, normalisation, fold table."""

    def __init__(
        self,
        networks: list[EvaluatorNet],
        vocabulary: LabelVocabulary,
        mean: np.ndarray,
        std: np.ndarray,
        window_frames: int,
        stride_frames: int,
        cell_folds: dict[str, int],
        info: dict[str, Any] | None = None,
    ) -> None:
        self.networks = [network.eval() for network in networks]
        self.vocabulary = vocabulary
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        self.window_frames, self.stride_frames = int(window_frames), int(stride_frames)
        self.cell_folds = dict(cell_folds)
        self.info = dict(info or {})

    @property
    def styles(self) -> tuple[str, ...]:
        return self.vocabulary.styles

    def fold_for(self, style: str | None, content: str | None) -> int:
        """The network that did not train on the (style, content) cell (hash fold if unknown)."""
        key = cell_key(style, content)
        if key in self.cell_folds:
            return self.cell_folds[key]
        return int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(self.networks)

    def windows(self, positions: np.ndarray, fps: float) -> np.ndarray:
        """Normalised windows `(N, W, F)` of a clip; `EvaluatorError` if it is too short."""
        if abs(fps - CANONICAL_FPS) > 1e-6:
            raise EvaluatorError(f"clip is at {fps} fps; the evaluator reads {CANONICAL_FPS}")
        if positions.ndim != 3 or positions.shape[1:] != (NUM_JOINTS, 3):
            raise EvaluatorError(f"positions must be (T, {NUM_JOINTS}, 3), got {positions.shape}")
        if not np.isfinite(positions).all():
            raise EvaluatorError("positions hold NaN or inf values")
        width = self.window_frames
        if len(positions) < width:
            raise EvaluatorError(
                f"clip has {len(positions)} frames, shorter than the {width}-frame window"
            )
        frames = (evaluator_frame_features(positions, fps) - self.mean) / self.std  # (T, F)
        starts = range(0, len(frames) - width + 1, self.stride_frames)
        return np.stack([frames[start : start + width] for start in starts])  # (N, W, F)

    @torch.no_grad()
    def score(
        self,
        positions: np.ndarray,
        style: str | None,
        content: str | None,
        fps: float = CANONICAL_FPS,
        fold: int | None = None,
    ) -> ClipScore:
        """Score positions `(T, J, 3)` with the network held out from the (style, content) cell:
        `style` is the style the clip is meant to have, `content` the content it should keep
        (`fold` forces one network, for comparisons that need a single feature space)."""
        fold = self.fold_for(style, content) if fold is None else fold
        windows = torch.as_tensor(self.windows(positions, fps))  # (N, W, F)
        features, style_logits, content_logits = self.networks[fold](windows)
        return ClipScore(
            style_probs=style_logits.softmax(-1).mean(0).numpy(),  # (S,)
            content_probs=content_logits.softmax(-1).mean(0).numpy(),  # (C,)
            features=features.numpy(),  # (N, D)
            fold=fold,
        )


def cell_key(style: str | None, content: str | None) -> str:
    return f"{style}|{content}"


def save_evaluator(out_dir: Path, evaluator: StyleEvaluator) -> Path:
    """Write `evaluator.pt` and, after it, `evaluator.pt.sha256`; returns the checkpoint path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / CHECKPOINT_NAME
    payload = {
        "format": EVALUATOR_FORMAT,
        "skeleton": SKELETON_NAME,
        "net_config": asdict(evaluator.networks[0].config),
        "states": [network.state_dict() for network in evaluator.networks],
        "vocabulary": evaluator.vocabulary.to_dict(),
        "mean": evaluator.mean.tolist(),
        "std": evaluator.std.tolist(),
        "window_frames": evaluator.window_frames,
        "stride_frames": evaluator.stride_frames,
        "cell_folds": evaluator.cell_folds,
        "info": evaluator.info,
    }
    temporary = path.with_suffix(".pt.tmp")
    torch.save(payload, temporary)
    temporary.replace(path)
    checksum = file_sha256(path)
    path.with_name(path.name + ".sha256").write_text(f"{checksum}  {path.name}\n")
    logger.info("froze evaluator %s (sha256 %s)", path, checksum)
    return path


def load_evaluator(location: str | Path) -> StyleEvaluator:
    """Load a frozen evaluator from its directory or checkpoint, verifying hash and version."""
    path = Path(location)
    path = path / CHECKPOINT_NAME if path.is_dir() else path
    checksum = path.with_name(path.name + ".sha256")
    if not path.is_file():
        raise EvaluatorError(f"no evaluator at {path}: run `stylemotion train-evaluator` first")
    if not checksum.is_file():
        raise EvaluatorChecksumError(f"{checksum} is missing: the evaluator was never frozen")
    expected, actual = checksum.read_text().split()[0], file_sha256(path)
    if expected != actual:
        raise EvaluatorChecksumError(
            f"{path} has sha256 {actual}, but {checksum.name} says {expected}: the frozen "
            "evaluator was changed; retrain it or restore the original file"
        )
    payload = load_weights_only(path, "evaluator", EvaluatorError)
    if not isinstance(payload, dict) or "format" not in payload:
        foreign = not isinstance(payload, dict) or "kind" in payload
        what = payload_kind(payload) if foreign else "a dict without a 'format'"
        raise EvaluatorError(f"{path}: not an evaluator checkpoint ({what})")
    if payload.get("format") != EVALUATOR_FORMAT or payload.get("skeleton") != SKELETON_NAME:
        raise EvaluatorError(
            f"{path}: evaluator format {short_repr(payload.get('format'))} on skeleton "
            f"{short_repr(payload.get('skeleton'))}; this code reads format {EVALUATOR_FORMAT} on "
            f"{SKELETON_NAME}: retrain it with `stylemotion train-evaluator`"
        )
    try:
        return _rebuild(payload, actual, path)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
        if isinstance(error, EvaluatorError):
            raise
        detail = f"no {error}" if isinstance(error, KeyError) else cut_message(error)
        raise EvaluatorError(f"{path}: no evaluator can be rebuilt from it: {detail}") from error


def _rebuild(payload: dict[str, Any], checksum: str, path: Path) -> StyleEvaluator:
    config = EvaluatorNetConfig(**payload["net_config"])
    networks = []
    for state in payload["states"]:
        network = EvaluatorNet(config)
        network.load_state_dict(state)
        networks.append(network)
    return StyleEvaluator(
        networks,
        LabelVocabulary.from_dict(payload["vocabulary"]),
        np.asarray(payload["mean"]),
        np.asarray(payload["std"]),
        payload["window_frames"],
        payload["stride_frames"],
        payload["cell_folds"],
        payload["info"] | {"sha256": checksum, "path": str(path)},
    )
