"""The motion VAE of the optional latent mode, and the latent space the diffusion works in.

Owns `MotionVAEConfig`, `MotionVAE` and `LatentSpace`. The VAE is a 1-D convolutional
autoencoder over frames: standardised windows `(B, W, D)` (`models.diffusion.motion_repr`) are
reduced in time by `downsample` (stride-2 convolutions, so W / downsample latent frames) to a
Gaussian `(B, W / downsample, latent_dim)` and decoded back by nearest upsampling + convolutions
(MLD, Chen et al. 2023, diffuses in a VAE latent for speed; this is a temporal-conv variant that
keeps a latent sequence, so the frozen encoders' content sequence still lines up with it).

`LatentSpace` has the same `encode(local) / decode(x)` interface as `MotionNormaliser`: the
diffusion code trains and samples in whichever space it is given. Its latents are the VAE's
posterior means, standardised per dimension with statistics of the training windows
(`latent_mean`, `latent_std`), so the diffusion sees unit-variance inputs in either mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from models.diffusion.motion_repr import MotionNormaliser


@dataclass(frozen=True)
class MotionVAEConfig:
    motion_dim: int
    window_frames: int = 60
    downsample: int = 4
    latent_dim: int = 32
    hidden: int = 256

    def __post_init__(self) -> None:
        if self.downsample < 1 or self.downsample & (self.downsample - 1):
            raise ValueError(f"downsample must be a power of two, got {self.downsample}")
        if self.window_frames % self.downsample:
            raise ValueError(
                f"window_frames {self.window_frames} is not a multiple of downsample "
                f"{self.downsample}"
            )
        if self.latent_dim < 1 or self.hidden < 1:
            raise ValueError("latent_dim and hidden must be positive")

    @property
    def latent_frames(self) -> int:
        return self.window_frames // self.downsample


class ResidualConv(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.GroupNorm(8, width),
            nn.GELU(),
            nn.Conv1d(width, width, 3, padding=1),
            nn.GroupNorm(8, width),
            nn.GELU(),
            nn.Conv1d(width, width, 3, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def _stages(config: MotionVAEConfig) -> int:
    return int(math.log2(config.downsample))


class MotionVAE(nn.Module):
    """`encode (B, W, D) -> (mean, logvar) (B, W/r, L)`, `decode (B, W/r, L) -> (B, W, D)`."""

    def __init__(self, config: MotionVAEConfig) -> None:
        super().__init__()
        self.config = config
        H, L = config.hidden, config.latent_dim
        down: list[nn.Module] = [nn.Conv1d(config.motion_dim, H, 3, padding=1), ResidualConv(H)]
        for _ in range(_stages(config)):
            down += [nn.Conv1d(H, H, 4, stride=2, padding=1), ResidualConv(H)]
        self.encoder = nn.Sequential(*down, nn.GroupNorm(8, H), nn.GELU(), nn.Conv1d(H, 2 * L, 1))
        up: list[nn.Module] = [nn.Conv1d(L, H, 3, padding=1), ResidualConv(H)]
        for _ in range(_stages(config)):
            up += [nn.Upsample(scale_factor=2), nn.Conv1d(H, H, 3, padding=1), ResidualConv(H)]
        self.decoder = nn.Sequential(
            *up, nn.GroupNorm(8, H), nn.GELU(), nn.Conv1d(H, config.motion_dim, 3, padding=1)
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x, self.config.window_frames, self.config.motion_dim, "motion")
        mean, logvar = self.encoder(x.transpose(1, 2)).transpose(1, 2).chunk(2, dim=-1)
        return mean, logvar.clamp(-12.0, 8.0)

    def decode(self, z: Tensor) -> Tensor:
        self._check(z, self.config.latent_frames, self.config.latent_dim, "latent")
        return self.decoder(z.transpose(1, 2)).transpose(1, 2)

    def forward(self, x: Tensor, generator: torch.Generator | None = None):
        """Reconstruction `(B, W, D)`, posterior mean and log-variance (reparameterised)."""
        mean, logvar = self.encode(x)
        noise = torch.randn(mean.shape, generator=generator).to(mean)
        return self.decode(mean + noise * (0.5 * logvar).exp()), mean, logvar

    @staticmethod
    def _check(x: Tensor, frames: int, dim: int, what: str) -> None:
        if x.ndim != 3 or x.shape[1:] != (frames, dim):
            raise ValueError(
                f"{what} of shape {tuple(x.shape)}, the VAE takes (B, {frames}, {dim})"
            )


def kl_divergence(mean: Tensor, logvar: Tensor) -> Tensor:
    """Mean over elements of KL(N(mean, exp(logvar)) || N(0, 1))."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()


class LatentSpace:
    """Diffusion in the VAE's latent: `encode` local positions -> standardised latent means,
    `decode` -> local positions `(B, W, J, 3)`; the VAE is frozen (no parameter trains)."""

    def __init__(
        self,
        vae: MotionVAE,
        normaliser: MotionNormaliser,
        latent_mean: Tensor,
        latent_std: Tensor,
    ) -> None:
        self.vae = vae.eval()
        for parameter in self.vae.parameters():
            parameter.requires_grad_(False)
        self.normaliser = normaliser
        self.latent_mean, self.latent_std = latent_mean, latent_std
        self.frame_factor = vae.config.downsample

    def to(self, device: torch.device | str) -> LatentSpace:
        self.vae.to(device)
        self.latent_mean = self.latent_mean.to(device)
        self.latent_std = self.latent_std.to(device)
        return self

    @torch.no_grad()
    def encode(self, local: Tensor) -> Tensor:
        mean, _ = self.vae.encode(self.normaliser.encode(local))
        return (mean - self.latent_mean) / self.latent_std  # (B, W / r, L)

    def decode(self, z: Tensor) -> Tensor:
        """Differentiable in `z`, so geometric and encoder losses reach the denoiser."""
        return self.normaliser.decode(self.vae.decode(z * self.latent_std + self.latent_mean))
