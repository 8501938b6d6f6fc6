"""Losses of the scene encoder, each a small pure function, combined under `SceneLossConfig`.

Owns the objectives of `models.scene.train`: the scene-style contrastive loss (the fused
condition `normalize(z_s(ref) + alpha * z_scene)` must land among the styles of motion
performed in that scene and away from the others), the scene-classification cross-entropy on
`z_scene` (an auxiliary head, not used at inference) and content orthogonality (z_scene must
not carry the reference's content; `models.encoders.contrastive_losses.orthogonality_loss`). Every
loss has a switch and a weight, so each ablation is one `--set`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from models.encoders.contrastive_losses import orthogonality_loss


@dataclass(frozen=True)
class SceneLossConfig:
    style_nce_enabled: bool = True
    style_nce_weight: float = 1.0
    temperature: float = 0.1
    scene_ce_enabled: bool = True
    scene_ce_weight: float = 0.2
    orthogonality_enabled: bool = True
    orthogonality_weight: float = 0.1


def scene_style_nce(
    fused: Tensor, targets: Tensor, labels: Tensor, temperature: float = 0.1
) -> Tensor:
    """Cross-set supervised InfoNCE: anchor `fused_i`, candidates `targets_j`, positives the
    targets with `labels_j == labels_i` (the target i itself always is one):

        L = mean_i  -1/|P(i)| sum_{p in P(i)} log( exp(f_i.t_p / t) / sum_j exp(f_i.t_j / t) )

    `fused (B, Ds)` and `targets (B, Ds)` unit length, `labels (B,)` scene ids of the targets.
    """
    with torch.autocast(device_type=fused.device.type, enabled=False):
        logits = fused.float() @ targets.float().T / temperature  # (B, B)
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)  # (B, B)
    positive = (labels[:, None] == labels[None, :]).float()  # (B, B), diagonal = 1
    return (-(log_prob * positive).sum(1) / positive.sum(1)).mean()


def scene_losses(
    fused: Tensor,
    targets: Tensor,
    scene_labels: Tensor,
    scene_logits: Tensor,
    z_scene: Tensor,
    z_content_ref: Tensor,
    config: SceneLossConfig,
) -> dict[str, Tensor]:
    """Each enabled loss (unweighted, for logging) and "total" = sum of weight * loss."""
    terms: dict[str, tuple[Tensor, float]] = {}
    if config.style_nce_enabled:
        loss = scene_style_nce(fused, targets, scene_labels, config.temperature)
        terms["scene_style_nce"] = (loss, config.style_nce_weight)
    if config.scene_ce_enabled:
        terms["scene_ce"] = (F.cross_entropy(scene_logits, scene_labels), config.scene_ce_weight)
    if config.orthogonality_enabled:
        loss = orthogonality_loss(z_content_ref, z_scene)
        terms["orthogonality"] = (loss, config.orthogonality_weight)
    losses = {name: loss for name, (loss, _) in terms.items()}
    losses["total"] = sum((w * loss for loss, w in terms.values()), z_scene.sum() * 0.0)
    return losses
