"""Position-space augmentation of training windows: noise, yaw rotation, speed change, mirror.

Owns how one window of a clip is varied for the contrastive encoders. Mirroring swaps the
left/right joints (so left and right body parts swap too); rotation and noise act on positions,
before `models.encoders.features` turns the window into tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storage.canonical import rotation_about_y
from storage.skeleton import MIRROR_INDEX


@dataclass(frozen=True)
class AugmentConfig:
    """Position-space augmentations, each switchable.

    Joint noise is a per-joint offset held over the window (`joint_noise_std_m`, 1 cm) plus a small
    per-frame jitter: i.i.d. 1 cm per frame would add ~0.4 m/s of velocity noise at 30 fps and
    swamp the 0.35 m/s contact threshold. `rotate` is a no-op on `models.encoders.features` (they
    live in the facing frame; the tests check it) and is kept for consumers of raw positions.
    """

    noise: bool = True
    joint_noise_std_m: float = 0.01
    frame_noise_std_m: float = 0.002
    rotate: bool = True
    speed_change: bool = True
    speed_range: tuple[float, float] = (0.9, 1.1)
    mirror: bool = True
    mirror_probability: float = 0.5


def mirror_positions(positions: np.ndarray) -> np.ndarray:
    """Left/right mirror of positions `(T, J, 3)`: x -> -x and left/right joints swapped."""
    mirrored = positions[:, list(MIRROR_INDEX)].copy()  # (T, J, 3)
    mirrored[..., 0] *= -1.0
    return mirrored


def rotate_positions(positions: np.ndarray, angle: float) -> np.ndarray:
    """Positions `(T, J, 3)` turned by `angle` radians about the vertical axis through 0."""
    return (positions @ rotation_about_y(angle).T.astype(positions.dtype)).astype(np.float32)


def resample_window(positions: np.ndarray, start: int, num_frames: int, speed: float) -> np.ndarray:
    """`num_frames` frames `(W, J, 3)` sampled every `speed` source frames around a window.

    The span stays centred on the window `[start, start + W)` and is shifted (and `speed`
    reduced) to fit inside the clip; linear interpolation between neighbouring frames.
    """
    last = positions.shape[0] - 1
    speed = min(speed, last / max(num_frames - 1, 1))
    offset = start + 0.5 * (num_frames - 1) * (1.0 - speed)
    offset = float(np.clip(offset, 0.0, last - speed * (num_frames - 1)))
    times = offset + speed * np.arange(num_frames)  # (W,) source frame times
    lower = np.clip(np.floor(times).astype(np.int64), 0, last)  # (W,)
    upper = np.minimum(lower + 1, last)
    weight = (times - lower)[:, None, None]  # (W, 1, 1)
    mixed = (1.0 - weight) * positions[lower] + weight * positions[upper]  # (W, J, 3)
    return mixed.astype(np.float32)


def augment_window(
    positions: np.ndarray,
    start: int,
    num_frames: int,
    config: AugmentConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """An augmented window `(W, J, 3)` cut from a clip's positions `(T, J, 3)`."""
    if config.speed_change:
        speed = rng.uniform(*config.speed_range)
        window = resample_window(positions, start, num_frames, speed)  # (W, J, 3)
    else:
        window = positions[start : start + num_frames].copy()  # (W, J, 3)
    if config.mirror and rng.random() < config.mirror_probability:
        window = mirror_positions(window)
    if config.rotate:
        window = rotate_positions(window, rng.uniform(-np.pi, np.pi))
    if config.noise:
        offsets = rng.normal(0.0, config.joint_noise_std_m, (1, *window.shape[1:]))  # (1, J, 3)
        jitter = rng.normal(0.0, config.frame_noise_std_m, window.shape)  # (W, J, 3)
        window = (window + offsets + jitter).astype(np.float32)
    return window
