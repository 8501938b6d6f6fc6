"""The data side of an encoder training run: clips, vocabulary, statistics, balanced batches.

Owns what `models.encoders.train` needs from the dataset: the training clips (default split of
`models.encoders.windows.split_of`), the label vocabulary, the feature statistics computed on the
training windows (saved with the model), an endless stream of style-balanced augmented
batches that resumes at a given step, and an un-augmented sample to embed when the coarse
style groups are refreshed. Bad data stops here with a message that names it: an empty
dataset, a single style, clips without a style label.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import DataLoader

from models.encoders.batch_sampler import StyleBalancedBatchSampler
from models.encoders.features import FeatureStats
from models.encoders.train_config import TrainEncodersConfig
from models.encoders.windows import (
    LabelVocabulary,
    WindowBatch,
    WindowDataset,
    WindowIndex,
    collate_windows,
    load_clips,
)
from storage.errors import UserInputError
from storage.records import MotionClip

if TYPE_CHECKING:
    from models.encoders.encoder import MotionEncoder

logger = logging.getLogger(__name__)


class TrainingDataError(UserInputError, ValueError):
    """The dataset cannot train encoders; the message says why."""


@dataclass
class TrainingData:
    clips: list[MotionClip]
    vocabulary: LabelVocabulary
    index: WindowIndex
    stats: FeatureStats
    augmented: WindowDataset
    plain: WindowDataset
    sampler: StyleBalancedBatchSampler

    def batches(self, start_step: int = 0) -> Iterator[WindowBatch]:
        """Endless batches; batch `start_step` onwards of the same sequence a fresh run sees."""
        per_epoch = len(self.sampler)
        epoch, skip = divmod(start_step, per_epoch)
        while True:
            self.sampler.set_epoch(epoch)
            torch.manual_seed(self.sampler.seed * 100_003 + epoch)  # augmentation draws
            loader = DataLoader(
                self.augmented, batch_sampler=self.sampler, collate_fn=collate_windows
            )
            for number, batch in enumerate(loader):
                if number >= skip:
                    yield batch
            epoch, skip = epoch + 1, 0

    def embed_sample(
        self, model: MotionEncoder, device: torch.device, max_windows: int = 1024
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Global style embeddings `(N, Ds)` and style labels `(N,)` of un-augmented windows."""
        chosen = np.linspace(0, len(self.plain) - 1, min(max_windows, len(self.plain))).astype(int)
        loader = DataLoader(
            torch.utils.data.Subset(self.plain, chosen.tolist()),
            batch_size=128,
            collate_fn=collate_windows,
        )
        was_training = model.training
        model.eval()
        embeddings, labels = [], []
        with torch.no_grad():
            for batch in loader:
                batch = batch.to(device)
                embeddings.append(model(batch.tokens, batch.descriptors).z_style.float())
                labels.append(batch.style)
        model.train(was_training)
        return torch.cat(embeddings), torch.cat(labels)

    def describe(self) -> dict[str, object]:
        return {
            "train_clips": len(self.clips),
            "train_windows": len(self.index),
            "skipped_short_clips": list(self.index.skipped_clip_ids),
            "styles": list(self.vocabulary.styles),
            "contents": list(self.vocabulary.contents),
            "batches_per_epoch": len(self.sampler),
        }


def _check_clips(clips: list[MotionClip], root: str) -> None:
    if not clips:
        raise TrainingDataError(
            f"{root}: no training clips (is it a dataset root with a train split?)"
        )
    unlabelled = [clip.clip_id for clip in clips if not clip.style]
    if unlabelled:
        raise TrainingDataError(
            f"{root}: {len(unlabelled)} training clips have no style label (e.g. {unlabelled[:3]})"
        )
    styles = {clip.style for clip in clips}
    if len(styles) < 2:
        raise TrainingDataError(
            f"{root}: contrastive style training needs >= 2 styles, found {sorted(styles)}"
        )


def build_training_data(
    config: TrainEncodersConfig, rank: int = 0, world_size: int = 1
) -> TrainingData:
    clips = load_clips(config.data_root, splits=("train",))
    _check_clips(clips, config.data_root)
    vocabulary = LabelVocabulary.from_clips(clips)
    index = WindowIndex.from_clips(clips, vocabulary, config.features)
    if len(index) == 0:
        raise TrainingDataError(f"{config.data_root}: every training clip is shorter than a window")
    plain = WindowDataset(clips, index, config.features)
    stats = plain.compute_stats()
    plain.stats = stats
    augmented = WindowDataset(clips, index, config.features, stats=stats, augment=config.augment)
    styles_per_batch = min(config.styles_per_batch, len(vocabulary.styles))
    sampler = StyleBalancedBatchSampler(
        index.styles, styles_per_batch, config.windows_per_style, config.seed, rank, world_size
    )
    logger.info(
        "training data: %d clips, %d windows, %d styles",
        len(clips),
        len(index),
        len(vocabulary.styles),
    )
    return TrainingData(clips, vocabulary, index, stats, augmented, plain, sampler)
