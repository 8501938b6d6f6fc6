"""A trained encoder run as a frozen dependency of later stages, identified by a checksum.

Owns `EncoderRun`: the run's encoder (eval mode), feature statistics and settings, vocabulary,
and the sha256 of its checkpoint. The diffusion and scene stages store that checksum and refuse
to continue with a different encoder (a "mismatched run/encoder" error names both).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from models.encoder import MotionEncoder
from models.eval_encoders import load_run
from models.features import FeatureConfig, FeatureStats
from models.train_encoders import CHECKPOINT_NAME
from models.windows import LabelVocabulary
from storage.checksums import file_sha256


@dataclass
class EncoderRun:
    path: Path
    model: MotionEncoder
    stats: FeatureStats
    features: FeatureConfig
    vocabulary: LabelVocabulary
    data_root: str
    checksum: str


def load_encoder_run(run_dir: str | Path, device: torch.device | str = "cpu") -> EncoderRun:
    """The frozen encoder run at `run_dir` (errors name the directory when it is not one)."""
    run_dir = Path(run_dir)
    loaded = load_run(run_dir, torch.device(device))
    return EncoderRun(
        path=run_dir,
        model=loaded.model,
        stats=loaded.stats,
        features=loaded.features,
        vocabulary=loaded.vocabulary,
        data_root=loaded.data_root,
        checksum=file_sha256(run_dir / CHECKPOINT_NAME),
    )
