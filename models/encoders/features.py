"""Motion features the contrastive encoders read: per-frame body-part tokens and window descriptors.

Owns the feature contract between the clips table (`storage.records.MotionClip`, canonical
skeleton, metres, y up, floor at y = 0) and the encoders. Each frame becomes six tokens
(`TOKEN_NAMES`): five body parts, each its joints' positions relative to the pelvis ground point
in the per-frame facing frame plus their velocities, and a root token (height, ground velocity in
the facing frame, yaw rate, four foot contacts). Each window also gets explicit per-part
frequency/amplitude descriptors (rFFT band energies of joint velocity, RMS amplitude, mean
speed). Everything is invariant to a horizontal translation and a yaw rotation of the whole clip.
`FeatureStats` holds the normalisation fitted on training windows and travels in checkpoints.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from storage.canonical import facing_yaw
from storage.skeleton import (
    BODY_PART_INDICES,
    BODY_PART_NAMES,
    CANONICAL_FPS,
    FOOT_JOINTS,
    JOINT_INDEX,
    NUM_JOINTS,
    rest_positions,
)

logger = logging.getLogger(__name__)

TOKEN_NAMES: tuple[str, ...] = (*BODY_PART_NAMES, "root")
NUM_TOKENS = len(TOKEN_NAMES)
NUM_PARTS = len(BODY_PART_NAMES)
ROOT_TOKEN = TOKEN_NAMES.index("root")
ROOT_FEATURE_NAMES: tuple[str, ...] = (
    "root_height",
    "forward_velocity",
    "lateral_velocity",
    "yaw_rate",
    *(f"{name}_contact" for name in FOOT_JOINTS),
)

_PELVIS = JOINT_INDEX["pelvis"]
_FOOT_INDICES = np.array([JOINT_INDEX[name] for name in FOOT_JOINTS])
# A standing ankle sits ~6-8 cm above the floor, a toe at ~0, so contact heights are measured
# above each foot joint's standing height in the rest pose (ankle 0.06 m: its threshold is
# 0.12 m); a bare 0.06 m would never fire for an ankle (Bandai walks: ankle 5th pct 0.075 m).
_REST_FOOT_HEIGHTS = rest_positions()[_FOOT_INDICES, 1]
FOOT_STANDING_HEIGHTS = (_REST_FOOT_HEIGHTS - _REST_FOOT_HEIGHTS.min()).astype(np.float64)
_PART_MEMBERS = np.array(
    [[joint in BODY_PART_INDICES[part] for joint in range(NUM_JOINTS)] for part in BODY_PART_NAMES],
    dtype=np.float64,
)  # (5, J): 1 where the joint belongs to the part
_PART_SIZES = _PART_MEMBERS.sum(axis=1)  # (5,)


class FeatureError(ValueError):
    """Features could not be computed or came out non-finite; the message names the clip."""


@dataclass(frozen=True)
class FeatureConfig:
    """Windowing and feature settings; saved with the encoder checkpoint."""

    window_frames: int = 60
    stride_frames: int = 15
    fps: float = CANONICAL_FPS
    use_frequency_features: bool = True
    frequency_bands_hz: tuple[tuple[float, float], ...] = (
        (0.5, 1.5),
        (1.5, 3.0),
        (3.0, 6.0),
        (6.0, 12.0),
    )
    contact_height_m: float = 0.06
    contact_speed_m_s: float = 0.35
    # Rebuild every clip with the canonical bone lengths before any feature (issue 15): the
    # style space cannot read the performer's proportions (`storage.canonical`).
    retarget_bones: bool = False

    def __post_init__(self) -> None:
        if self.window_frames < 2 or self.stride_frames < 1:
            raise ValueError(f"bad window/stride: {self.window_frames}/{self.stride_frames}")
        object.__setattr__(
            self, "frequency_bands_hz", tuple(tuple(band) for band in self.frequency_bands_hz)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **{name: getattr(self, name) for name in self.__dataclass_fields__},
            "frequency_bands_hz": [list(band) for band in self.frequency_bands_hz],
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> FeatureConfig:
        return cls(**payload)


def token_sizes(config: FeatureConfig | None = None) -> tuple[int, ...]:
    """True width of each token: 6 per joint for a body part, 8 for the root."""
    parts = tuple(6 * len(BODY_PART_INDICES[name]) for name in BODY_PART_NAMES)
    return (*parts, len(ROOT_FEATURE_NAMES))


def max_token_size(config: FeatureConfig | None = None) -> int:
    return max(token_sizes(config))


def token_feature_mask(config: FeatureConfig | None = None) -> np.ndarray:
    """Boolean mask `(6, F_max)` of the real (non-padding) token dims."""
    sizes = token_sizes(config)
    return np.arange(max(sizes))[None, :] < np.array(sizes)[:, None]


def descriptor_size(config: FeatureConfig | None = None) -> int:
    """Width D of a part descriptor: one energy fraction per band, RMS amplitude, mean speed."""
    return len((config or FeatureConfig()).frequency_bands_hz) + 2


def rotate_into_facing(vectors: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Turn vectors `(T, N, 3)` by `-yaw[t]` `(T,)` about +y: world -> per-frame facing frame.

    In the facing frame forward is +z and the subject's left is +x (`rotation_about_y(-yaw)`).
    """
    cos, sin = np.cos(yaw)[:, None], np.sin(yaw)[:, None]  # (T, 1)
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]  # (T, N) each
    return np.stack([cos * x - sin * z, y, sin * x + cos * z], axis=-1)  # (T, N, 3)


def finite_difference(values: np.ndarray, fps: float) -> np.ndarray:
    """Rates `(T, ...)` per second of `values` `(T, ...)`: forward differences, last repeated."""
    if values.shape[0] < 2:
        return np.zeros_like(values)
    rates = np.diff(values, axis=0) * fps  # (T-1, ...)
    return np.concatenate([rates, rates[-1:]], axis=0)  # (T, ...)


@dataclass(frozen=True)
class LocalMotion:
    """A clip in its own per-frame facing frame (float64).

    positions: (T, J, 3) joints minus the pelvis ground point, rotated by -yaw.
    velocities: (T, J, 3) time derivative of `positions` (body-relative motion, m/s).
    yaw: (T,) unwrapped facing yaw; ground: (T, 3) pelvis ground point (x, 0, z).
    """

    positions: np.ndarray
    velocities: np.ndarray
    yaw: np.ndarray
    ground: np.ndarray


def local_motion(positions: np.ndarray, fps: float) -> LocalMotion:
    """Express positions `(T, J, 3)` relative to the pelvis ground point in the facing frame."""
    if positions.ndim != 3 or positions.shape[1:] != (NUM_JOINTS, 3) or len(positions) < 1:
        raise FeatureError(
            f"positions must have shape (T>=1, {NUM_JOINTS}, 3), got {positions.shape}"
        )
    world = positions.astype(np.float64)  # (T, J, 3)
    yaw = facing_yaw(world)  # (T,)
    ground = world[:, _PELVIS] * np.array([1.0, 0.0, 1.0])  # (T, 3)
    local = rotate_into_facing(world - ground[:, None], yaw)  # (T, J, 3)
    return LocalMotion(local, finite_difference(local, fps), yaw, ground)


def foot_contacts(positions: np.ndarray, fps: float, config: FeatureConfig) -> np.ndarray:
    """Contact flags `(T, 4)` in `FOOT_JOINTS` order: low above standing height and slow."""
    feet = positions[:, _FOOT_INDICES].astype(np.float64)  # (T, 4, 3)
    speed = np.linalg.norm(finite_difference(feet, fps), axis=-1)  # (T, 4)
    height = feet[..., 1] - FOOT_STANDING_HEIGHTS  # (T, 4) above standing height
    low = height < config.contact_height_m
    return (low & (speed < config.contact_speed_m_s)).astype(np.float64)


def root_features(
    positions: np.ndarray, motion: LocalMotion, fps: float, config: FeatureConfig
) -> np.ndarray:
    """Root token `(T, 8)`: height, forward and lateral ground velocity, yaw rate, contacts."""
    ground_velocity = finite_difference(motion.ground, fps)  # (T, 3)
    facing_velocity = rotate_into_facing(ground_velocity[:, None], motion.yaw)[:, 0]  # (T, 3)
    columns = [
        positions[:, _PELVIS, 1].astype(np.float64),  # (T,) height above the floor
        facing_velocity[:, 2],  # (T,) forward
        facing_velocity[:, 0],  # (T,) lateral, + = to the subject's left
        finite_difference(motion.yaw, fps),  # (T,) rad/s
    ]
    contacts = foot_contacts(positions, fps, config)  # (T, 4)
    return np.concatenate([np.stack(columns, axis=-1), contacts], axis=-1)  # (T, 8)


def clip_frame_features(
    positions: np.ndarray, fps: float, config: FeatureConfig | None = None
) -> np.ndarray:
    """Per-frame tokens `(T, 6, F_max)` float32 of positions `(T, J, 3)`, zero-padded per token.

    Body-part token p: local positions `(|J_p| * 3)` then local velocities `(|J_p| * 3)`, joints
    in skeleton order. Root token: `ROOT_FEATURE_NAMES`.
    """
    config = config or FeatureConfig()
    return _frame_tokens(positions, local_motion(positions, fps), fps, config)


def window_descriptors(
    positions: np.ndarray, fps: float, config: FeatureConfig | None = None
) -> np.ndarray:
    """Per-part descriptors `(5, D)` float32 of a window of positions `(W, J, 3)`.

    Columns: the fraction of the part's velocity energy (sum over its joints and axes of |v|^2,
    i.e. its speed energy, split over frequency by Parseval) in each band, then the RMS of its
    local positions around their window mean (m), then its mean speed (m/s). The spectrum is of
    the velocity components, not of the scalar speed: |v| of a 5 Hz swing beats at 10 Hz.
    Velocities are mean-removed and Hann-tapered before the rFFT.
    """
    config = config or FeatureConfig()
    return _part_descriptors(local_motion(positions, fps), fps, config)


def window_features(
    positions: np.ndarray, fps: float, config: FeatureConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(tokens (W, 6, F_max), descriptors (5, D)) of a window `(W, J, 3)`, one local frame pass."""
    config = config or FeatureConfig()
    motion = local_motion(positions, fps)
    return _frame_tokens(positions, motion, fps, config), _part_descriptors(motion, fps, config)


def _frame_tokens(
    positions: np.ndarray, motion: LocalMotion, fps: float, config: FeatureConfig
) -> np.ndarray:
    num_frames = positions.shape[0]
    tokens = np.zeros((num_frames, NUM_TOKENS, max_token_size(config)), np.float32)
    for token, part in enumerate(BODY_PART_NAMES):
        joints = list(BODY_PART_INDICES[part])
        local = motion.positions[:, joints].reshape(num_frames, -1)  # (T, |J_p| * 3)
        velocity = motion.velocities[:, joints].reshape(num_frames, -1)  # (T, |J_p| * 3)
        tokens[:, token, : 2 * local.shape[1]] = np.concatenate([local, velocity], axis=-1)
    root = root_features(positions, motion, fps, config)  # (T, 8)
    tokens[:, ROOT_TOKEN, : root.shape[1]] = root
    return tokens


def _band_masks(num_frames: int, fps: float, config: FeatureConfig) -> np.ndarray:
    """Float masks `(bands, K)` of the rFFT bins in each band (lower edge in, upper out)."""
    frequencies = np.fft.rfftfreq(num_frames, d=1.0 / fps)  # (K,)
    return np.stack(
        [(frequencies >= low) & (frequencies < high) for low, high in config.frequency_bands_hz]
    ).astype(np.float64)


def _part_descriptors(motion: LocalMotion, fps: float, config: FeatureConfig) -> np.ndarray:
    num_frames = motion.positions.shape[0]
    taper = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(num_frames) / num_frames)  # (W,) Hann
    centred = motion.velocities - motion.velocities.mean(axis=0)  # (W, J, 3)
    spectrum = np.fft.rfft(centred * taper[:, None, None], axis=0)  # (K, J, 3)
    part_power = (np.abs(spectrum) ** 2).sum(axis=-1) @ _PART_MEMBERS.T  # (K, 5)
    total = part_power.sum(axis=0)  # (5,)
    band_power = _band_masks(num_frames, fps, config) @ part_power  # (bands, 5)
    fractions = np.where(total > 1e-12, band_power / np.maximum(total, 1e-12), 0.0)
    spread = motion.positions - motion.positions.mean(axis=0)  # (W, J, 3)
    square_spread = (spread**2).sum(axis=-1).mean(axis=0)  # (J,)
    speed = np.linalg.norm(motion.velocities, axis=-1).mean(axis=0)  # (J,)
    amplitude = np.sqrt(_PART_MEMBERS @ square_spread / _PART_SIZES)  # (5,)
    mean_speed = _PART_MEMBERS @ speed / _PART_SIZES  # (5,)
    return np.concatenate([fractions.T, amplitude[:, None], mean_speed[:, None]], axis=1).astype(
        np.float32
    )  # (5, D)


def check_finite(array: np.ndarray, what: str, clip_id: str) -> None:
    """Raise `FeatureError` naming the clip when `array` holds NaN or inf."""
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise FeatureError(f"clip {clip_id}: {what} hold {bad} NaN/inf values")


@dataclass(frozen=True, eq=False)
class FeatureStats:
    """Normalisation fitted on training windows; `to_dict()` goes into the checkpoint.

    mean, std: (6, F_max) per token dim; descriptor_mean, descriptor_std: (5, D).
    """

    mean: np.ndarray
    std: np.ndarray
    descriptor_mean: np.ndarray
    descriptor_std: np.ndarray

    def __post_init__(self) -> None:
        for name in ("mean", "std", "descriptor_mean", "descriptor_std"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float32))
        if self.mean.shape != self.std.shape or self.mean.shape[0] != NUM_TOKENS:
            raise ValueError(f"token stats must be (6, F_max), got {self.mean.shape}")
        if self.descriptor_mean.shape != self.descriptor_std.shape:
            raise ValueError("descriptor mean and std shapes differ")
        if (self.std <= 0).any() or (self.descriptor_std <= 0).any():
            raise ValueError("standard deviations must be positive")

    def normalise(self, tokens: Any, descriptors: Any) -> tuple[Any, Any]:
        """(tokens (..., 6, F_max), descriptors (..., 5, D)) -> normalised, numpy or torch."""
        return (
            (tokens - _like(self.mean, tokens)) / _like(self.std, tokens),
            (descriptors - _like(self.descriptor_mean, descriptors))
            / _like(self.descriptor_std, descriptors),
        )

    def to_dict(self) -> dict[str, list]:
        return {name: getattr(self, name).tolist() for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> FeatureStats:
        return cls(**{name: np.asarray(payload[name]) for name in cls.__dataclass_fields__})


def _like(array: np.ndarray, reference: Any) -> Any:
    """`array` as a tensor on `reference`'s device and dtype when `reference` is a tensor."""
    if isinstance(reference, torch.Tensor):
        return torch.as_tensor(array, dtype=reference.dtype, device=reference.device)
    return array


def _mean_std(total: np.ndarray, squares: np.ndarray, count: int, min_std: float) -> tuple:
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return mean, np.where(std < min_std, 1.0, std)


def compute_feature_stats(
    windows: Iterable[tuple[np.ndarray, np.ndarray]], min_std: float = 1e-3
) -> FeatureStats:
    """Mean/std over (tokens (W, 6, F_max), descriptors (5, D)) pairs of training windows.

    Token stats are per (token, dim) over every frame of every window, descriptor stats per
    (part, dim) over windows. Dims spread less than `min_std` (the zero padding, the pelvis's own
    local x/z, which are 0 by construction) keep std 1 so they stay 0 after normalising.
    """
    sums = squares = descriptor_sums = descriptor_squares = None
    num_frames = num_windows = 0
    for tokens, descriptors in windows:
        frames = tokens.reshape(-1, *tokens.shape[-2:]).astype(np.float64)  # (W, 6, F_max)
        if sums is None:
            sums, squares = np.zeros(frames.shape[1:]), np.zeros(frames.shape[1:])
            descriptor_sums = np.zeros(descriptors.shape)
            descriptor_squares = np.zeros(descriptors.shape)
        sums += frames.sum(axis=0)
        squares += (frames**2).sum(axis=0)
        descriptor_sums += descriptors
        descriptor_squares += descriptors.astype(np.float64) ** 2
        num_frames += len(frames)
        num_windows += 1
    if num_windows == 0:
        raise FeatureError("no training windows to compute feature statistics from")
    mean, std = _mean_std(sums, squares, num_frames, min_std)
    descriptor_mean, descriptor_std = _mean_std(
        descriptor_sums, descriptor_squares, num_windows, min_std
    )
    logger.info("feature stats from %d windows, %d frames", num_windows, num_frames)
    return FeatureStats(mean, std, descriptor_mean, descriptor_std)
