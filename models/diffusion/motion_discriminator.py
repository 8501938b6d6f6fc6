"""The optional style-conditional discriminator of the adaptor stage (flag `discriminator`).

Owns `MotionDiscriminator`: a small temporal 1-D CNN over standardised motion `(B, W, D)` with
a projection-discriminator style term (Miyato & Koyama 2018: logit = f(x) + <g(x), e(z_s)>),
and the two non-saturating GAN losses. Real samples are training windows with their own style
codes; fakes are the adaptor's x0 predictions with the style they were asked for.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class MotionDiscriminator(nn.Module):
    def __init__(self, motion_dim: int, style_dim: int, width: int = 64) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(motion_dim, width, 5, stride=2, padding=2),
            nn.LeakyReLU(0.2),
            nn.Conv1d(width, width, 5, stride=2, padding=2),
            nn.LeakyReLU(0.2),
            nn.Conv1d(width, width, 5, stride=2, padding=2),
            nn.LeakyReLU(0.2),
        )
        self.unconditional = nn.Linear(width, 1)
        self.style_embedding = nn.Linear(style_dim, width, bias=False)

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        """Logits `(B,)` of motion `x (B, W, D)` being real for style codes `style (B, Ds)`."""
        h = self.features(x.transpose(1, 2)).mean(dim=-1)  # (B, width)
        projection = (h * self.style_embedding(style)).sum(dim=-1)  # (B,)
        return self.unconditional(h).squeeze(-1) + projection


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """softplus(-D(real)) + softplus(D(fake)), averaged."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: Tensor, weight: Tensor | None = None) -> Tensor:
    """Non-saturating generator loss softplus(-D(fake)), optionally weighted per sample."""
    per_sample = F.softplus(-fake_logits)
    if weight is None:
        return per_sample.mean()
    return (per_sample * weight).sum() / weight.sum().clamp_min(1e-6)
