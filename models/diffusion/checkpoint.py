"""The diffusion run's checkpoint: denoiser, normaliser, style prototypes, encoder identity.

Owns `save_run_checkpoint` / `load_run_checkpoint` and `DiffusionRun`. A checkpoint holds the
`DenoiserConfig` (so loading needs no flags), the weights, the stage ("base" or "adaptor"), the
training config, the motion normaliser, the label vocabulary, the per-style prototypes of the
frozen encoder, the encoder run's path and checksum, and in latent mode the VAE run's path and
checksum (a VAE that changed since is refused); a file of another kind or version, or
weights that do not fit, fail with a message naming the file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from models.common.checkpoint_io import config_of, read_checked, write_atomically
from models.diffusion.denoiser import DenoiserConfig, MotionDenoiser
from models.diffusion.motion_repr import MotionNormaliser
from models.encoders.windows import LabelVocabulary
from storage.errors import UserInputError, cut_message

CHECKPOINT_NAME = "last.pt"
CHECKPOINT_KIND = "stylemotion-motion-denoiser"
FORMAT_VERSION = 1


class DiffusionCheckpointError(ValueError, UserInputError):
    """A diffusion run cannot be loaded; the message names the file and the reason."""


@dataclass
class DiffusionRun:
    path: Path
    model: MotionDenoiser
    stage: str
    step: int
    normaliser: MotionNormaliser
    vocabulary: LabelVocabulary
    prototypes: torch.Tensor  # (S, Ds)
    part_prototypes: torch.Tensor  # (S, 5, Ds)
    encoder_run: str
    encoder_checksum: str
    train_config: dict[str, Any]
    latent_vae: Any = None  # the VAERun of latent mode, None in data space

    @property
    def space(self) -> Any:
        """What the denoiser works in: the normaliser, or the VAE's latent space."""
        return self.latent_vae.space if self.latent_vae is not None else self.normaliser

    @property
    def motion_frames(self) -> int:
        """Frames of motion per model window (model frames x the VAE's downsampling)."""
        return self.model.config.window_frames * self.space.frame_factor


def save_run_checkpoint(run_dir: Path, model, config, data, encoder_run, step: int) -> Path:
    prototypes, part_prototypes = data.prototypes()
    payload = {
        "kind": CHECKPOINT_KIND,
        "format_version": FORMAT_VERSION,
        "config": asdict(model.config),
        "state_dict": model.state_dict(),
        "stage": config.stage,
        "step": step,
        "train_config": asdict(config),
        "normaliser": data.normaliser.to_dict(),
        "vocabulary": data.vocabulary.to_dict(),
        "prototypes": prototypes,
        "part_prototypes": part_prototypes,
        "encoder_run": str(Path(encoder_run.path).resolve()),
        "encoder_checksum": encoder_run.checksum,
        "latent_vae": str(Path(data.latent_vae.path).resolve()) if data.latent_vae else None,
        "latent_vae_checksum": data.latent_vae.checksum if data.latent_vae else None,
    }
    return write_atomically(payload, run_dir / CHECKPOINT_NAME)


def load_run_checkpoint(run_dir: Path, device: torch.device | str = "cpu") -> DiffusionRun:
    path = Path(run_dir) / CHECKPOINT_NAME
    if not path.is_file():
        raise DiffusionCheckpointError(f"{run_dir}: no {CHECKPOINT_NAME} (is it a diffusion run?)")
    payload = read_checked(
        path, CHECKPOINT_KIND, FORMAT_VERSION, DiffusionCheckpointError, "diffusion", device
    )
    config = config_of(
        DenoiserConfig, path, payload["config"], DiffusionCheckpointError, "denoiser"
    )
    model = MotionDenoiser(config)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        detail = cut_message(error)
        raise DiffusionCheckpointError(f"{path}: weights do not fit: {detail}") from error
    model.set_adaptor(payload["stage"] == "adaptor")
    latent_vae = _latent_vae(path, payload, device)
    return DiffusionRun(
        path=Path(run_dir),
        model=model.to(device).eval(),
        stage=payload["stage"],
        step=int(payload["step"]),
        normaliser=MotionNormaliser.from_dict(payload["normaliser"]),
        vocabulary=LabelVocabulary.from_dict(payload["vocabulary"]),
        prototypes=payload["prototypes"],
        part_prototypes=payload["part_prototypes"],
        encoder_run=payload["encoder_run"],
        encoder_checksum=payload["encoder_checksum"],
        train_config=payload["train_config"],
        latent_vae=latent_vae,
    )


def _latent_vae(path: Path, payload: dict, device):
    """The VAE run a latent-mode checkpoint was trained with, checked by its sha256."""
    if not payload.get("latent_vae"):
        return None
    from models.diffusion.vae_run import VAERunError, load_vae_run

    try:
        vae = load_vae_run(payload["latent_vae"], device)
    except VAERunError as error:
        raise DiffusionCheckpointError(
            f"{path}: its latent VAE cannot be loaded: {error}"
        ) from error
    if vae.checksum != payload["latent_vae_checksum"]:
        raise DiffusionCheckpointError(
            f"{path}: trained in the latent of VAE {payload['latent_vae']} with checksum "
            f"{payload['latent_vae_checksum'][:12]}, which now has {vae.checksum[:12]} "
            "(mismatched VAE run)"
        )
    return vae
