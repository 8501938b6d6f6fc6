"""A trained motion-VAE run on disk: saving, loading, and its identity for later stages.

Owns `save_vae_checkpoint`, `load_vae_run` and `VAERun`. The checkpoint (`vae.pt`) holds the
`MotionVAEConfig`, the weights, the motion normaliser, the latent standardisation, the training
config and the measured reconstruction error; the diffusion stage stores its sha256 and refuses
a VAE that changed since (a mismatched run names both checksums).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from models.common.checkpoint_io import config_of, read_checked, write_atomically
from models.diffusion.motion_repr import MotionNormaliser
from models.diffusion.motion_vae import LatentSpace, MotionVAE, MotionVAEConfig
from storage.checksums import file_sha256
from storage.errors import UserInputError, cut_message

VAE_CHECKPOINT = "vae.pt"
VAE_KIND = "stylemotion-motion-vae"
VAE_FORMAT_VERSION = 1


class VAERunError(ValueError, UserInputError):
    """A VAE run cannot be loaded; the message names the file and the reason."""


@dataclass
class VAERun:
    path: Path
    space: LatentSpace
    checksum: str
    train_config: dict[str, Any]
    report: dict[str, Any]


def save_vae_checkpoint(
    run_dir: Path,
    vae: MotionVAE,
    normaliser: MotionNormaliser,
    latent_stats: tuple[torch.Tensor, torch.Tensor],
    train_config: Any,
    report: dict[str, Any],
) -> Path:
    payload = {
        "kind": VAE_KIND,
        "format_version": VAE_FORMAT_VERSION,
        "config": asdict(vae.config),
        "state_dict": {k: v.cpu() for k, v in vae.state_dict().items()},
        "normaliser": normaliser.to_dict(),
        "latent_mean": latent_stats[0].cpu(),
        "latent_std": latent_stats[1].cpu(),
        "train_config": asdict(train_config),
        "report": report,
    }
    return write_atomically(payload, Path(run_dir) / VAE_CHECKPOINT)


def load_vae_run(run_dir: str | Path, device: torch.device | str = "cpu") -> VAERun:
    path = Path(run_dir) / VAE_CHECKPOINT
    if not path.is_file():
        raise VAERunError(f"{run_dir}: no {VAE_CHECKPOINT} (is it a train-vae run?)")
    payload = read_checked(path, VAE_KIND, VAE_FORMAT_VERSION, VAERunError, "motion-VAE")
    vae = MotionVAE(config_of(MotionVAEConfig, path, payload["config"], VAERunError, "VAE"))
    try:
        vae.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise VAERunError(f"{path}: weights do not fit: {cut_message(error)}") from error
    normaliser = MotionNormaliser.from_dict(payload["normaliser"])
    space = LatentSpace(vae, normaliser, payload["latent_mean"], payload["latent_std"])
    return VAERun(
        path=Path(run_dir),
        space=space.to(device),
        checksum=file_sha256(path),
        train_config=payload["train_config"],
        report=payload["report"],
    )
