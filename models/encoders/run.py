"""A trained encoder run as a frozen dependency of later stages, identified by a checksum.

Owns the run on disk (`CHECKPOINT_NAME`, `RUN_FORMAT`) and loading it: `load_encoder_run`
gives an `EncoderRun` (the run's encoder in eval mode, feature statistics and settings,
vocabulary, data root, step and the sha256 of its checkpoint), or an `EncoderRunError` that
names the directory when it is not a usable train-encoders run. The diffusion and scene stages
store that checksum and refuse to continue with a different encoder (a "mismatched
run/encoder" error names both); the encoder evaluation loads runs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from models.encoders.encoder import MotionEncoder, load_encoder
from models.encoders.features import FeatureConfig, FeatureStats
from models.encoders.windows import LabelVocabulary
from storage.checksums import file_sha256
from storage.errors import UserInputError, cut_message, short_repr

RUN_FORMAT = 1
CHECKPOINT_NAME = "last.pt"


class EncoderRunError(ValueError, UserInputError):
    """The directory is not a usable train-encoders run; the message says why."""


@dataclass
class EncoderRun:
    path: Path
    model: MotionEncoder
    stats: FeatureStats
    features: FeatureConfig
    vocabulary: LabelVocabulary
    data_root: str
    step: int
    checksum: str


def load_encoder_run(run_dir: str | Path, device: torch.device | str = "cpu") -> EncoderRun:
    """The frozen encoder run at `run_dir` (errors name the directory when it is not one)."""
    run_dir = Path(run_dir)
    device = torch.device(device)
    path = run_dir / CHECKPOINT_NAME
    if not path.is_file():
        raise EncoderRunError(f"{run_dir}: no {CHECKPOINT_NAME} (is it a train-encoders run?)")
    model, extra = load_encoder(path, map_location=device)  # a CheckpointError names the file
    run_format = extra.get("run_format") if isinstance(extra, dict) else None
    if run_format != 1:
        raise EncoderRunError(f"{path}: run format {short_repr(run_format)} is not supported")
    try:
        train_config = extra["train_config"]
        return EncoderRun(
            path=run_dir,
            model=model.to(device).eval(),
            stats=FeatureStats.from_dict(extra["feature_stats"]),
            features=FeatureConfig.from_dict(train_config["features"]),
            vocabulary=LabelVocabulary.from_dict(extra["vocabulary"]),
            data_root=train_config["data_root"],
            step=int(extra["step"]),
            checksum=file_sha256(path),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        detail = f"no {error}" if isinstance(error, KeyError) else cut_message(error)
        raise EncoderRunError(f"{path}: incomplete encoder run checkpoint: {detail}") from error
