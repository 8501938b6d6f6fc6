"""The AdaIN run's checkpoint: network, normaliser, style prototypes, encoder identity.

Owns `save_adain_checkpoint` / `load_adain_run` and `AdaINRun`. A checkpoint (kind
`CHECKPOINT_KIND`, `FORMAT_VERSION`) holds the `AdaINConfig` (so loading needs no flags), the
weights, the step, the training config, the motion normaliser, the label vocabulary, the per-style
prototypes of the frozen encoder (`models.diffusion.data.DiffusionData.prototypes`) and the
encoder run's path and checksum, which the stylizer checks (`models.feedforward.stylize`). A file
of another kind or version, or weights that do not fit, fail with a message naming the file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from models.common.checkpoint_io import config_of, read_checked, write_atomically
from models.diffusion.data import DiffusionData
from models.diffusion.motion_repr import MotionNormaliser
from models.encoders.run import EncoderRun
from models.encoders.windows import LabelVocabulary
from models.feedforward.adain import AdaINConfig, AdaINStylizerNet
from storage.errors import UserInputError, cut_message

CHECKPOINT_NAME = "last.pt"
CHECKPOINT_KIND = "stylemotion-adain-stylizer"
FORMAT_VERSION = 1


class AdaINCheckpointError(ValueError, UserInputError):
    """An AdaIN run cannot be loaded or used; the message names the file and the reason."""


@dataclass
class AdaINRun:
    path: Path
    model: AdaINStylizerNet
    step: int
    normaliser: MotionNormaliser
    vocabulary: LabelVocabulary
    prototypes: torch.Tensor  # (S, Ds)
    part_prototypes: torch.Tensor  # (S, 5, Ds)
    encoder_run: str
    encoder_checksum: str
    train_config: dict[str, Any]


def save_adain_checkpoint(
    run_dir: Path,
    model: AdaINStylizerNet,
    train_config: Any,
    data: DiffusionData,
    encoder_run: EncoderRun,
    step: int,
) -> Path:
    prototypes, part_prototypes = data.prototypes()
    payload = {
        "kind": CHECKPOINT_KIND,
        "format_version": FORMAT_VERSION,
        "config": asdict(model.config),
        "state_dict": model.state_dict(),
        "step": step,
        "train_config": asdict(train_config),
        "normaliser": data.normaliser.to_dict(),
        "vocabulary": data.vocabulary.to_dict(),
        "prototypes": prototypes,
        "part_prototypes": part_prototypes,
        "encoder_run": str(Path(encoder_run.path).resolve()),
        "encoder_checksum": encoder_run.checksum,
    }
    return write_atomically(payload, Path(run_dir) / CHECKPOINT_NAME)


def load_adain_run(run_dir: str | Path, device: torch.device | str = "cpu") -> AdaINRun:
    path = Path(run_dir) / CHECKPOINT_NAME
    if not path.is_file():
        raise AdaINCheckpointError(f"{run_dir}: no {CHECKPOINT_NAME} (is it a train-adain run?)")
    payload = read_checked(
        path, CHECKPOINT_KIND, FORMAT_VERSION, AdaINCheckpointError, "AdaIN stylizer", device
    )
    config = config_of(AdaINConfig, path, payload.get("config"), AdaINCheckpointError, "AdaIN")
    model = AdaINStylizerNet(config)
    try:
        model.load_state_dict(payload["state_dict"])
        return AdaINRun(
            path=Path(run_dir),
            model=model.to(device).eval(),
            step=int(payload["step"]),
            normaliser=MotionNormaliser.from_dict(payload["normaliser"]),
            vocabulary=LabelVocabulary.from_dict(payload["vocabulary"]),
            prototypes=payload["prototypes"].float(),
            part_prototypes=payload["part_prototypes"].float(),
            encoder_run=str(payload["encoder_run"]),
            encoder_checksum=str(payload["encoder_checksum"]),
            train_config=payload["train_config"],
        )
    except RuntimeError as error:
        raise AdaINCheckpointError(f"{path}: weights do not fit: {cut_message(error)}") from error
    except (KeyError, TypeError, AttributeError) as error:
        detail = f"no {error}" if isinstance(error, KeyError) else cut_message(error)
        raise AdaINCheckpointError(f"{path}: incomplete AdaIN checkpoint: {detail}") from error
