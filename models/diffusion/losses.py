"""Losses of the stylization diffusion stage, each a small pure function with a switch.

Owns `DiffusionLossConfig` (one weight and one on/off flag per loss) and the loss functions:
the diffusion (x0) loss, joint velocity, style identity (the frozen style encoder on the
output vs the target style, global and per part), content (the frozen content encoder on the
output vs on the source), foot skating, bone-length consistency, key-joint deviation from the
source (root trajectory and end effectors), and content/style decorrelation of the
conditioning. Positions are `(B, W, J, 3)` in metres; style vectors are L2-normalised.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from models.encoders.contrastive_losses import orthogonality_loss
from storage.skeleton import FOOT_JOINTS, JOINT_INDEX, PARENTS

FOOT_INDICES = [JOINT_INDEX[name] for name in FOOT_JOINTS]
END_EFFECTORS = [
    JOINT_INDEX[name]
    for name in ("left_wrist", "right_wrist", "left_ankle", "right_ankle", "head")
    if name in JOINT_INDEX
]
_PELVIS = JOINT_INDEX["pelvis"]
_BONES = [(joint, parent) for joint, parent in enumerate(PARENTS) if parent >= 0]


@dataclass(frozen=True)
class DiffusionLossConfig:
    diffusion_enabled: bool = True
    diffusion_weight: float = 1.0
    style_enabled: bool = True
    style_weight: float = 1.0
    part_style_enabled: bool = True
    part_style_weight: float = 0.5
    content_enabled: bool = True
    content_weight: float = 1.0
    velocity_enabled: bool = True  # joint velocities of the prediction vs the clean window
    velocity_weight: float = 1.0
    foot_enabled: bool = True
    foot_weight: float = 1.0
    bone_enabled: bool = True
    bone_weight: float = 1.0
    key_joint_enabled: bool = True
    key_joint_weight: float = 0.5
    end_effector_share: float = 0.2  # of the key-joint loss; the rest is the root trajectory
    condition_orthogonality_enabled: bool = True
    condition_orthogonality_weight: float = 0.1
    discriminator_enabled: bool = False  # the optional style-conditional discriminator
    discriminator_weight: float = 0.1
    discriminator_learning_rate: float = 2e-4
    contact_height_m: float = 0.05


def diffusion_loss(x0_pred: Tensor, x0: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean squared error of the x0 prediction `(B, W, D)`; `mask (B,)` picks the samples."""
    per_sample = (x0_pred.float() - x0.float()).pow(2).mean(dim=(1, 2))  # (B,)
    if mask is None:
        return per_sample.mean()
    return (per_sample * mask).sum() / mask.sum().clamp_min(1)


def style_identity_loss(z_output: Tensor, z_target: Tensor, weight: Tensor | None = None) -> Tensor:
    """1 - cosine between output and target styles `(B, [P,] Ds)`, averaged (per-sample weight)."""
    per_sample = 1 - F.cosine_similarity(z_output.float(), z_target.float(), dim=-1)
    if per_sample.ndim > 1:
        per_sample = per_sample.mean(dim=-1)  # (B,)
    if weight is None:
        return per_sample.mean()
    return (per_sample * weight).sum() / weight.sum().clamp_min(1e-6)


def content_loss(z_output_seq: Tensor, z_source_seq: Tensor) -> Tensor:
    """Mean squared distance of the content sequences `(B, S, Dc)` (per-step normalised)."""
    return (
        (F.normalize(z_output_seq.float(), dim=-1) - F.normalize(z_source_seq.float(), dim=-1))
        .pow(2)
        .sum(-1)
        .mean()
    )


def velocity_loss(positions: Tensor, target: Tensor, fps: float) -> Tensor:
    """Mean squared error of joint velocities (m/s) of `(B, W, J, 3)` predictions vs targets
    (callers pass only samples that have a clean target). Without it the x0 prediction in
    position space drifted to damped motion: half the source's joint speed on held-out clips."""
    predicted = (positions[:, 1:] - positions[:, :-1]).float() * fps
    true = (target[:, 1:] - target[:, :-1]).float() * fps
    return (predicted - true).pow(2).sum(-1).mean()


def foot_skate_loss(positions: Tensor, fps: float, contact_height_m: float = 0.05) -> Tensor:
    """Horizontal foot speed (m/s) weighted by a soft contact `sigmoid((h_c - h) / 1 cm)`."""
    feet = positions[:, :, FOOT_INDICES].float()  # (B, W, 4, 3)
    velocity = (feet[:, 1:] - feet[:, :-1]) * fps  # (B, W-1, 4, 3)
    horizontal = velocity[..., [0, 2]].norm(dim=-1)  # (B, W-1, 4)
    height = torch.minimum(feet[:, 1:, :, 1], feet[:, :-1, :, 1])  # (B, W-1, 4)
    contact = torch.sigmoid((contact_height_m - height) / 0.01)
    return (contact * horizontal).mean()


def bone_lengths(positions: Tensor) -> Tensor:
    """Bone lengths `(B, W, bones)` of positions `(B, W, J, 3)`."""
    joints = torch.tensor([j for j, _ in _BONES], device=positions.device)
    parents = torch.tensor([p for _, p in _BONES], device=positions.device)
    return (positions[:, :, joints] - positions[:, :, parents]).norm(dim=-1)


def bone_length_loss(positions: Tensor, reference: Tensor) -> Tensor:
    """Mean |bone length - the source's mean bone length| (m); `reference (B, W, J, 3)`."""
    target = bone_lengths(reference.float()).mean(dim=1, keepdim=True)  # (B, 1, bones)
    return (bone_lengths(positions.float()) - target).abs().mean()


def key_joint_loss(positions: Tensor, source: Tensor, end_effector_share: float = 0.2) -> Tensor:
    """Root-trajectory (pelvis ground x, z) plus pelvis-relative end-effector deviation (m)."""
    p, s = positions.float(), source.float()
    trajectory = (p[:, :, _PELVIS, [0, 2]] - s[:, :, _PELVIS, [0, 2]]).norm(dim=-1).mean()
    relative_p = p[:, :, END_EFFECTORS] - p[:, :, _PELVIS : _PELVIS + 1]
    relative_s = s[:, :, END_EFFECTORS] - s[:, :, _PELVIS : _PELVIS + 1]
    effectors = (relative_p - relative_s).norm(dim=-1).mean()
    return (1 - end_effector_share) * trajectory + end_effector_share * effectors


def condition_orthogonality_loss(content_condition: Tensor, style_condition: Tensor) -> Tensor:
    """Decorrelation of pooled content `(B, D)` and global style `(B, D)` conditioning."""
    return orthogonality_loss(content_condition, style_condition)
