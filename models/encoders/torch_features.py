"""Differentiable motion features: the torch twin of `models.encoders.features` for batches.

Owns the path from generated positions `(B, W, J, 3)` to the encoder's inputs (tokens
`(B, W, 6, F_max)` and per-part descriptors `(B, 5, D)`) with gradients, so the diffusion stage
can score its own predictions with the frozen encoders (style identity, content) during
training. It computes exactly what the numpy path computes (the tests compare both on real
clips); foot contacts are thresholded flags there and here, so they pass no gradient.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from models.encoders.features import (
    _PART_MEMBERS,
    _PART_SIZES,
    FOOT_STANDING_HEIGHTS,
    ROOT_TOKEN,
    FeatureConfig,
    max_token_size,
)
from storage.skeleton import BODY_PART_INDICES, BODY_PART_NAMES, FOOT_JOINTS, JOINT_INDEX

_PELVIS = JOINT_INDEX["pelvis"]
_HIPS = (JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"])
_SHOULDERS = (JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"])
_FEET = [JOINT_INDEX[name] for name in FOOT_JOINTS]


def unwrap(angles: Tensor, dim: int = -1) -> Tensor:
    """`np.unwrap` along `dim`: steps larger than pi are shifted by multiples of 2 pi."""
    steps = torch.diff(angles, dim=dim)
    wrapped = torch.remainder(steps + math.pi, 2 * math.pi) - math.pi
    first = angles.narrow(dim, 0, 1)
    return torch.cat([first, first + torch.cumsum(wrapped, dim=dim)], dim=dim)


def facing_yaw(positions: Tensor) -> Tensor:
    """Unwrapped heading `(B, W)` of positions `(B, W, J, 3)`; 0 = facing +z."""
    across = (positions[..., _HIPS[0], :] - positions[..., _HIPS[1], :]) + (
        positions[..., _SHOULDERS[0], :] - positions[..., _SHOULDERS[1], :]
    )  # (B, W, 3)
    forward_x, forward_z = -across[..., 2], across[..., 0]
    return unwrap(torch.atan2(forward_x, forward_z + 1e-12), dim=-1)


def rotate_into_facing(vectors: Tensor, yaw: Tensor) -> Tensor:
    """Vectors `(B, W, N, 3)` turned by `-yaw (B, W)` about +y (world -> facing frame)."""
    cos, sin = torch.cos(yaw)[..., None], torch.sin(yaw)[..., None]  # (B, W, 1)
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    return torch.stack([cos * x - sin * z, y, sin * x + cos * z], dim=-1)


def finite_difference(values: Tensor, fps: float) -> Tensor:
    """Forward differences per second along dim 1, the last one repeated (as the numpy path)."""
    rates = torch.diff(values, dim=1) * fps
    return torch.cat([rates, rates[:, -1:]], dim=1)


def window_features_torch(
    positions: Tensor, fps: float, config: FeatureConfig | None = None
) -> tuple[Tensor, Tensor]:
    """(tokens `(B, W, 6, F_max)`, descriptors `(B, 5, D)`) of positions `(B, W, J, 3)`."""
    config = config or FeatureConfig()
    world = positions.float()
    B, W = world.shape[:2]
    yaw = facing_yaw(world)  # (B, W)
    ground = world[:, :, _PELVIS] * world.new_tensor([1.0, 0.0, 1.0])  # (B, W, 3)
    local = rotate_into_facing(world - ground[:, :, None], yaw)  # (B, W, J, 3)
    velocity = finite_difference(local, fps)  # (B, W, J, 3)
    tokens = world.new_zeros(B, W, 6, max_token_size(config))
    parts = []
    for index, part in enumerate(BODY_PART_NAMES):
        joints = list(BODY_PART_INDICES[part])
        values = torch.cat([local[:, :, joints].flatten(2), velocity[:, :, joints].flatten(2)], -1)
        parts.append((index, values))
    tokens = tokens.clone()
    for index, values in parts:
        tokens[:, :, index, : values.shape[-1]] = values
    root = _root_features(world, ground, yaw, fps, config)  # (B, W, 8)
    tokens[:, :, ROOT_TOKEN, : root.shape[-1]] = root
    return tokens, _descriptors(local, velocity, fps, config)


def _root_features(
    world: Tensor, ground: Tensor, yaw: Tensor, fps: float, config: FeatureConfig
) -> Tensor:
    ground_velocity = finite_difference(ground, fps)  # (B, W, 3)
    facing_velocity = rotate_into_facing(ground_velocity[:, :, None], yaw)[:, :, 0]  # (B, W, 3)
    feet = world[:, :, _FEET]  # (B, W, 4, 3)
    speed = finite_difference(feet, fps).norm(dim=-1)  # (B, W, 4)
    height = feet[..., 1] - feet.new_tensor(FOOT_STANDING_HEIGHTS)  # (B, W, 4)
    contacts = ((height < config.contact_height_m) & (speed < config.contact_speed_m_s)).float()
    columns = [
        world[:, :, _PELVIS, 1],
        facing_velocity[..., 2],
        facing_velocity[..., 0],
        finite_difference(yaw, fps),
    ]
    return torch.cat([torch.stack(columns, dim=-1), contacts], dim=-1)  # (B, W, 8)


def _descriptors(local: Tensor, velocity: Tensor, fps: float, config: FeatureConfig) -> Tensor:
    B, W = local.shape[:2]
    members = local.new_tensor(_PART_MEMBERS)  # (5, J)
    sizes = local.new_tensor(_PART_SIZES)  # (5,)
    frame = torch.arange(W, device=local.device, dtype=local.dtype)
    taper = 0.5 - 0.5 * torch.cos(2 * math.pi * frame / W)  # (W,)
    centred = velocity - velocity.mean(dim=1, keepdim=True)  # (B, W, J, 3)
    spectrum = torch.fft.rfft(centred * taper[None, :, None, None], dim=1)  # (B, K, J, 3)
    part_power = (spectrum.abs() ** 2).sum(-1) @ members.T  # (B, K, 5)
    total = part_power.sum(dim=1)  # (B, 5)
    frequencies = torch.fft.rfftfreq(W, d=1.0 / fps).to(local)  # (K,)
    masks = torch.stack(
        [
            ((frequencies >= lo) & (frequencies < hi)).to(local)
            for lo, hi in config.frequency_bands_hz
        ]
    )  # (bands, K)
    band_power = torch.einsum("nk,bkp->bnp", masks, part_power)  # (B, bands, 5)
    fractions = torch.where(
        total[:, None] > 1e-12, band_power / total[:, None].clamp_min(1e-12), 0.0
    )  # (B, bands, 5)
    spread = local - local.mean(dim=1, keepdim=True)  # (B, W, J, 3)
    square_spread = (spread**2).sum(-1).mean(1)  # (B, J)
    speed = velocity.norm(dim=-1).mean(1)  # (B, J)
    amplitude = torch.sqrt((square_spread @ members.T) / sizes + 1e-12)  # (B, 5)
    mean_speed = (speed @ members.T) / sizes  # (B, 5)
    return torch.cat(
        [fractions.transpose(1, 2), amplitude[..., None], mean_speed[..., None]], dim=-1
    )  # (B, 5, D)
