"""Training the motion VAE of the latent diffusion mode (`stylemotion train-vae`).

Owns `TrainVAEConfig` and `train_vae(config) -> run_dir`. The VAE learns the windows the
diffusion stage trains on (the encoder run's window length, the encoder split's `train`
clips, moved into their own frame and standardised; denser, plus their left/right mirrors):
reconstruction MSE in standardised units, joint-velocity error in m/s (as the diffusion's
velocity loss: without it reconstructions are damped) and a small KL term. After training,
the latent standardisation is measured on the training windows, and the reconstruction
error (mean per-joint position error, metres) on the encoder split's `val` windows, which the
VAE never saw, goes into `report.json` and the checkpoint.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from models.common.training import choose_device, seed_everything
from models.common.training_log import append_metrics, progress_bar
from models.diffusion.data import DiffusionDataError, split_windows
from models.diffusion.losses import velocity_loss
from models.diffusion.motion_repr import MOTION_DIM, MotionNormaliser
from models.diffusion.motion_vae import MotionVAE, MotionVAEConfig, kl_divergence
from models.diffusion.vae_run import save_vae_checkpoint
from models.encoders.augment import mirror_positions
from models.encoders.run import load_encoder_run

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VAESize:
    downsample: int = 4
    latent_dim: int = 32
    hidden: int = 128


@dataclass(frozen=True)
class TrainVAEConfig:
    data_root: str
    encoder_run: str
    out: str
    seed: int = 0
    steps: int = 3000
    batch_size: int = 128
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    kl_weight: float = 1e-4
    velocity_weight: float = 0.05
    window_stride: int = 10  # frames between training windows (denser than the encoders')
    mirror: bool = True  # add the left/right mirror of every training window
    log_every: int = 50
    checkpoint_every: int = 500
    device: str = "auto"
    model: VAESize = field(default_factory=VAESize)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 2:
            raise ValueError(f"steps >= 1 and batch_size >= 2 needed, got {self}")
        if self.window_stride < 1:
            raise ValueError(f"window_stride must be >= 1, got {self.window_stride}")
        if self.kl_weight < 0 or self.velocity_weight < 0:
            raise ValueError("kl_weight and velocity_weight must be >= 0")


def mirror_windows(windows: np.ndarray) -> np.ndarray:
    """Left/right mirrors of local windows `(N, W, J, 3)` (they still start facing +z)."""
    return np.stack([mirror_positions(window) for window in windows])


def reconstruction_error_m(vae: MotionVAE, normaliser: MotionNormaliser, windows: Tensor) -> float:
    """Mean per-joint position error (metres) of decoding the posterior means of `windows`."""
    vae.eval()
    errors = []
    with torch.no_grad():
        for chunk in windows.split(256):
            mean, _ = vae.encode(normaliser.encode(chunk))
            decoded = normaliser.decode(vae.decode(mean))
            errors.append((decoded - chunk).norm(dim=-1).mean(dim=(1, 2)))
    return float(torch.cat(errors).mean())


@torch.no_grad()
def latent_statistics(vae: MotionVAE, normaliser: MotionNormaliser, windows: Tensor):
    """Per-dimension mean and std `(L,)` of the posterior means of `windows`."""
    vae.eval()
    means = [vae.encode(normaliser.encode(chunk))[0] for chunk in windows.split(256)]
    flat = torch.cat(means).reshape(-1, vae.config.latent_dim)
    return flat.mean(0), flat.std(0).clamp_min(1e-3)


def _step_loss(vae, normaliser, local: Tensor, config: TrainVAEConfig, fps: float, gen):
    x = normaliser.encode(local)
    recon, mean, logvar = vae(x, gen)
    terms = {
        "reconstruction": F.mse_loss(recon, x),
        "velocity": velocity_loss(normaliser.decode(recon), local, fps),
        "kl": kl_divergence(mean, logvar),
    }
    total = terms["reconstruction"] + config.velocity_weight * terms["velocity"]
    return total + config.kl_weight * terms["kl"], terms


def train_vae(config: TrainVAEConfig, show_progress: bool = False) -> Path:
    """Train the VAE; returns the run directory (vae.pt, report.json, metrics.jsonl)."""
    seed_everything(config.seed)
    device = choose_device(config.device)
    run_dir = Path(config.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    encoder = load_encoder_run(config.encoder_run)
    fps, window = encoder.features.fps, encoder.features.window_frames
    _, train_np = split_windows(
        config.data_root, encoder.vocabulary, encoder.features, "train", config.window_stride
    )
    if config.mirror:
        train_np = np.concatenate([train_np, mirror_windows(train_np)])
    normaliser = MotionNormaliser.fit(train_np)
    train = torch.as_tensor(train_np, device=device)
    vae = MotionVAE(MotionVAEConfig(MOTION_DIM, window, **asdict(config.model))).to(device)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=config.learning_rate, weight_decay=0.0)
    gen = torch.Generator().manual_seed(config.seed)
    (run_dir / "run.json").write_text(json.dumps({"config": asdict(config)}, indent=2))
    progress = progress_bar(config.steps, show_progress, "train-vae")
    started = time.perf_counter()
    for step in range(config.steps):
        vae.train()
        scale = min(1.0, (step + 1) / config.warmup_steps)
        cosine = 0.5 * (1 + np.cos(np.pi * step / config.steps))
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate * scale * max(cosine, 0.05)
        index = torch.randint(0, len(train), (config.batch_size,), generator=gen)
        total, terms = _step_loss(vae, normaliser, train[index.to(device)], config, fps, gen)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        if (step + 1) % config.log_every == 0 or step == 0 or step + 1 == config.steps:
            rate = (step + 1) * config.batch_size / (time.perf_counter() - started)
            values = {k: float(v.detach()) for k, v in terms.items()} | {
                "total": float(total.detach())
            }
            append_metrics(run_dir, step + 1, values, rate, logger, digits=6)
            if progress is not None:
                progress.set_postfix(loss=f"{values['total']:.4f}", windows_s=f"{rate:.0f}")
        if progress is not None:
            progress.update(1)
    if progress is not None:
        progress.close()
    report = _report(vae, normaliser, train, config, encoder, time.perf_counter() - started)
    stats = latent_statistics(vae, normaliser, train)
    save_vae_checkpoint(run_dir, vae.cpu(), normaliser, stats, config, report)
    (run_dir / "report.json").write_text(json.dumps(report, indent=2))
    return run_dir


def _report(vae, normaliser, train: Tensor, config: TrainVAEConfig, encoder, seconds: float):
    report = {
        "train_windows": len(train),
        "train_seconds": round(seconds, 1),
        "train_reconstruction_error_m": reconstruction_error_m(vae, normaliser, train),
    }
    try:
        _, held_out = split_windows(
            config.data_root, encoder.vocabulary, encoder.features, "val", config.window_stride
        )
    except DiffusionDataError as error:  # a small dataset may have no val clips
        logger.warning("no held-out reconstruction error: %s", error)
        return report | {"val_windows": 0, "val_reconstruction_error_m": None}
    val = torch.as_tensor(held_out, device=train.device)
    error = reconstruction_error_m(vae, normaliser, val)
    return report | {"val_windows": len(val), "val_reconstruction_error_m": error}
