"""The diffusion model's motion representation: windows of joint positions in their own frame.

Owns the mapping between clip positions `(W, J, 3)` (world, metres, y up) and the vectors the
denoiser works on: a window is moved so its pelvis starts above the origin facing +z (the start
heading is the circular mean over its first frames, `storage.canonical.initial_yaw`), flattened
to `(W, J * 3)` and standardised per dimension with `MotionNormaliser` statistics from the
training windows (the diffusion's data space; `models.diffusion.motion_vae.LatentSpace` is the
latent one, with the same `encode`/`decode`). `WindowPlacement` remembers the move so a generated
window goes back to where its source window was. Positions (not rotations) keep the
geometric losses exact and the decoding trivial; bone lengths are held by a loss instead of by
construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from storage.canonical import initial_yaw, rotation_about_y
from storage.skeleton import JOINT_INDEX, NUM_JOINTS

MOTION_DIM = NUM_JOINTS * 3
_PELVIS = JOINT_INDEX["pelvis"]


@dataclass(frozen=True)
class WindowPlacement:
    """Where a window sat in the world: pelvis ground start (x, z) and start heading (rad)."""

    origin_x: float
    origin_z: float
    yaw: float

    def to_local(self, positions: np.ndarray) -> np.ndarray:
        shifted = positions - np.array([self.origin_x, 0.0, self.origin_z])
        return (shifted @ rotation_about_y(-self.yaw).T).astype(np.float32)  # (W, J, 3)

    def to_world(self, local: np.ndarray) -> np.ndarray:
        turned = local @ rotation_about_y(self.yaw).T
        return (turned + np.array([self.origin_x, 0.0, self.origin_z])).astype(np.float32)


def placement_of(positions: np.ndarray) -> WindowPlacement:
    """The placement that puts window `(W, J, 3)` at the origin facing +z."""
    pelvis = positions[0, _PELVIS]
    return WindowPlacement(float(pelvis[0]), float(pelvis[2]), initial_yaw(positions))


def to_local_window(positions: np.ndarray) -> tuple[np.ndarray, WindowPlacement]:
    placement = placement_of(positions)
    return placement.to_local(positions), placement


@dataclass(frozen=True)
class MotionNormaliser:
    """Per-dimension mean and std `(J * 3,)` of local windows; saved with the diffusion run."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, windows: np.ndarray, min_std: float = 1e-2) -> MotionNormaliser:
        flat = windows.reshape(-1, MOTION_DIM).astype(np.float64)  # (N * W, D)
        return cls(
            flat.mean(0).astype(np.float32), np.maximum(flat.std(0), min_std).astype(np.float32)
        )

    def encode(self, local: Tensor) -> Tensor:
        """`(B, W, J, 3)` local positions -> `(B, W, D)` standardised vectors."""
        flat = local.reshape(*local.shape[:2], MOTION_DIM)
        return (flat - flat.new_tensor(self.mean)) / flat.new_tensor(self.std)

    def decode(self, x: Tensor) -> Tensor:
        """`(B, W, D)` -> `(B, W, J, 3)` local positions (metres)."""
        flat = x * x.new_tensor(self.std) + x.new_tensor(self.mean)
        return flat.reshape(*x.shape[:2], NUM_JOINTS, 3)

    @property
    def frame_factor(self) -> int:
        """Motion frames per model frame: 1 here; the VAE's downsampling in latent mode."""
        return 1

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, payload: dict) -> MotionNormaliser:
        return cls(np.asarray(payload["mean"], np.float32), np.asarray(payload["std"], np.float32))


def as_tensor(array: np.ndarray, device: torch.device | str = "cpu") -> Tensor:
    return torch.as_tensor(np.ascontiguousarray(array), dtype=torch.float32, device=device)


TRAJECTORY_CHANNELS = 4  # pelvis ground x, z (window frame, metres), sin and cos of the heading
# the source's gesture rhythm: these joints relative to the pelvis, each coordinate centred and
# scaled over the window (see `rhythm_channels`)
RHYTHM_JOINTS = ("head", "left_elbow", "left_wrist", "right_elbow", "right_wrist")
RHYTHM_CHANNELS = 3 * len(RHYTHM_JOINTS)
RHYTHM_SCALE_FLOOR_M = 0.05  # coordinates moving much less than this stay near zero


def rhythm_channels(local: Tensor) -> Tensor:
    """`(B, W, J, 3)` local positions -> `(B, W, 15)`: head, elbows and wrists relative to the
    pelvis, every coordinate minus its window mean and divided by its window spread (floored at
    5 cm). What is left is when and in which direction the arms move (a wave, a pointing
    gesture), not where they are held or how far they swing: posture and amplitude, which a
    style changes, are left to the style condition."""
    joints = [JOINT_INDEX[name] for name in RHYTHM_JOINTS]
    relative = local[:, :, joints] - local[:, :, _PELVIS : _PELVIS + 1]  # (B, W, 5, 3)
    centred = relative - relative.mean(dim=1, keepdim=True)
    spread = centred.pow(2).mean(dim=1, keepdim=True)
    scaled = centred / torch.sqrt(spread + RHYTHM_SCALE_FLOOR_M**2)
    return scaled.flatten(2)  # (B, W, 15)


def trajectory_condition(local: Tensor, frame_factor: int = 1, rhythm: bool = False) -> Tensor:
    """The source's root trajectory as a per-frame condition: `(B, W, J, 3)` local positions ->
    `(B, W / frame_factor, C * frame_factor)` (consecutive frames stacked per model frame, as the
    latent mode's VAE groups them), C = 4, or 4 + 15 with the gesture `rhythm` channels. The
    denoiser then keeps the source's path and heading (and the timing of its arm gestures)."""
    from models.encoders.torch_features import facing_yaw

    ground = local[:, :, _PELVIS, [0, 2]]  # (B, W, 2)
    yaw = facing_yaw(local)  # (B, W)
    parts = [ground, torch.sin(yaw)[..., None], torch.cos(yaw)[..., None]]
    if rhythm:
        parts.append(rhythm_channels(local))
    channels = torch.cat(parts, dim=-1)
    B, W, C = channels.shape
    if W % frame_factor:
        raise ValueError(f"{W} frames do not group by {frame_factor}")
    return channels.reshape(B, W // frame_factor, C * frame_factor)


def condition_channels(rhythm: bool) -> int:
    """Channels per motion frame of `trajectory_condition`."""
    return TRAJECTORY_CHANNELS + (RHYTHM_CHANNELS if rhythm else 0)
