"""The noise schedule and the DDIM update, kept apart from the denoising network.

Owns `NoiseSchedule` (the cosine schedule of Nichol & Dhariwal 2021, `alpha_bar(t) =
cos^2(((t/T + s) / (1 + s)) * pi / 2)`, betas clipped at 0.999), forward noising `q_sample`,
the DDIM timestep subsequence and one deterministic-or-stochastic DDIM step (Song et al. 2021)
from an x0 prediction. The network predicts x0 (the clean motion), so geometric losses apply to
its prediction; the implied noise is recovered here. The sampling loop itself lives in
`models.diffusion.stylize`, written out in a few lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class DDIMStep:
    """One DDIM update: the next sample and the noise implied by the x0 prediction."""

    sample: Tensor  # (B, ...) x_{t_prev}
    predicted_noise: Tensor  # (B, ...)


class NoiseSchedule:
    """Cosine schedule over `num_steps` training timesteps (t = 0 .. num_steps-1)."""

    def __init__(self, num_steps: int = 1000, offset: float = 0.008) -> None:
        if num_steps < 2:
            raise ValueError(f"a schedule needs >= 2 steps, got {num_steps}")
        self.num_steps = num_steps
        steps = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps  # (T+1,)
        f = torch.cos((steps + offset) / (1 + offset) * math.pi / 2) ** 2
        betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)  # (T,)
        self.alphas_cumprod = torch.cumprod(1 - betas, dim=0).float()  # (T,)

    def _alpha_bar(self, t: Tensor, like: Tensor) -> Tensor:
        a = self.alphas_cumprod.to(like.device)[t]  # (B,)
        return a.view(-1, *([1] * (like.ndim - 1)))  # (B, 1, ...)

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """x_t = sqrt(a_t) x0 + sqrt(1 - a_t) noise, for integer timesteps `t (B,)`."""
        a = self._alpha_bar(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def noise_from_x0(self, x_t: Tensor, x0: Tensor, t: Tensor) -> Tensor:
        a = self._alpha_bar(t, x_t)
        return (x_t - a.sqrt() * x0) / (1 - a).sqrt().clamp_min(1e-8)

    def ddim_timesteps(self, num_inference_steps: int) -> list[int]:
        """Descending, evenly spaced training timesteps, starting at the last one."""
        if not 1 <= num_inference_steps <= self.num_steps:
            raise ValueError(
                f"DDIM steps must be in [1, {self.num_steps}], got {num_inference_steps}"
            )
        spaced = torch.linspace(self.num_steps - 1, 0, num_inference_steps).round().long()
        return sorted(set(spaced.tolist()), reverse=True)

    def ddim_step(
        self,
        x_t: Tensor,
        x0: Tensor,
        t: int,
        t_prev: int,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> DDIMStep:
        """x_{t_prev} from x_t and the x0 prediction; `t_prev = -1` returns x0 itself."""
        batch_t = torch.full((x_t.shape[0],), t, dtype=torch.long, device=x_t.device)
        noise = self.noise_from_x0(x_t, x0, batch_t)
        if t_prev < 0:
            return DDIMStep(x0, noise)
        a_t = self.alphas_cumprod[t].item()
        a_prev = self.alphas_cumprod[t_prev].item()
        sigma = eta * math.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))
        direction = math.sqrt(max(1 - a_prev - sigma**2, 0.0)) * noise
        sample = math.sqrt(a_prev) * x0 + direction
        if sigma > 0:
            fresh = torch.randn(x_t.shape, generator=generator, device="cpu").to(x_t)
            sample = sample + sigma * fresh
        return DDIMStep(sample, noise)
