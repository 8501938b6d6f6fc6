"""Training windows for the contrastive encoders: labels, split, window index, dataset.

Owns the path from finished clip shards to batches the encoders train on. Clips are loaded
through `storage.shard_reader` by the split the ingest stored with them (`split_of`; the rule
lives in `storage.splits` and in the data, never here); `LabelVocabulary` maps style and
content names to indices; `WindowIndex` lists every window start of every clip (windows are
cut at load time, never stored); `WindowDataset` serves normalised `models.encoders.features` tokens
and descriptors, with optional augmentation on positions (`models.encoders.augment`);
`models.encoders.batch_sampler` draws the style-balanced batches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from models.encoders.augment import AugmentConfig, augment_window
from models.encoders.features import (
    NUM_PARTS,
    NUM_TOKENS,
    FeatureConfig,
    FeatureError,
    FeatureStats,
    check_finite,
    clip_frame_features,
    compute_feature_stats,
    window_descriptors,
    window_features,
)
from storage.canonical import retarget_to_rest_lengths
from storage.errors import UserInputError
from storage.records import MotionClip, Split
from storage.shard_reader import ClipFilter, ShardReader

logger = logging.getLogger(__name__)

UNKNOWN_LABEL = -1


class UnlabelledClipError(UserInputError, ValueError):
    """A clip without a style label reached a dataset that needs one."""


@dataclass(frozen=True)
class LabelVocabulary:
    """Style and content names in index order; saved with the encoder checkpoint."""

    styles: tuple[str, ...]
    contents: tuple[str, ...]

    def __post_init__(self) -> None:
        for name, values in (("styles", tuple(self.styles)), ("contents", tuple(self.contents))):
            if len(set(values)) != len(values):
                raise ValueError(f"LabelVocabulary.{name} holds duplicates: {values}")
            object.__setattr__(self, name, values)

    @classmethod
    def from_clips(cls, clips: Iterable[MotionClip]) -> LabelVocabulary:
        clips = list(clips)
        styles = sorted({clip.style for clip in clips if clip.style is not None})
        contents = sorted({clip.content for clip in clips if clip.content is not None})
        return cls(tuple(styles), tuple(contents))

    def style_index(self, style: str) -> int:
        try:
            return self.styles.index(style)
        except ValueError:
            raise KeyError(f"style '{style}' is not in the vocabulary {self.styles}") from None

    def content_index(self, content: str | None) -> int:
        """Index of `content`; `UNKNOWN_LABEL` (-1) for None or a content not in the list."""
        return self.contents.index(content) if content in self.contents else UNKNOWN_LABEL

    def clip_style_index(self, clip: MotionClip, allow_unlabelled: bool = False) -> int:
        """Style index of a clip; an unlabelled clip is refused unless `allow_unlabelled` (-1)."""
        if clip.style is None:
            if allow_unlabelled:
                return UNKNOWN_LABEL
            raise UnlabelledClipError(
                f"clip {clip.clip_id} ({clip.source_uri}) has no style label; "
                "pass allow_unlabelled=True to keep it with style -1"
            )
        return self.style_index(clip.style)

    def to_dict(self) -> dict[str, list[str]]:
        return {"styles": list(self.styles), "contents": list(self.contents)}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> LabelVocabulary:
        return cls(tuple(payload["styles"]), tuple(payload["contents"]))


def split_of(clip: MotionClip) -> str:
    """'test', 'val' or 'train': the split the ingest stored with the clip (the one truth)."""
    return Split(clip.split).value


def split_note(root: str | Path) -> str:
    """The split rules recorded in the data under `root` (for logs and run cards)."""
    rules = sorted({stats.settings_json for stats in ShardReader(str(root)).stats()})
    rules = [rule for rule in rules if rule]
    if not rules:
        return f"{root}: splits as stored in the clips table (no rule recorded by the ingest)"
    return f"{root}: splits stored by the ingest under these settings: " + "; ".join(rules)


def load_clips(
    root: str | Path,
    splits: str | Sequence[str] | None = ("train",),
    datasets: str | Sequence[str] | None = None,
) -> list[MotionClip]:
    """Clips of the finished shards under `root` whose stored split is in `splits` (None: all).

    The split is the one the ingest wrote into the clips table (`storage.splits`); nothing
    here re-decides it, so a held-out clip can only reach training if the data says so.
    """
    reader = ShardReader(str(root))
    wanted = None
    if splits is not None:
        wanted = [Split(name).value for name in ([splits] if isinstance(splits, str) else splits)]
    clips = list(reader.iter_clips(ClipFilter(dataset=datasets, split=wanted)))
    logger.info("loaded %d clips (splits %s) from %s", len(clips), splits, root)
    return clips


def retargeted(clip: MotionClip) -> MotionClip:
    """`clip` on the canonical bone lengths (`FeatureConfig.retarget_bones`)."""
    positions = retarget_to_rest_lengths(clip.positions).astype(np.float32)
    return replace(clip, positions=positions)


@dataclass(frozen=True, eq=False)
class WindowIndex:
    """Every window of every clip: `(N,)` int64 arrays, plus the clips too short for one."""

    clip_indices: np.ndarray
    starts: np.ndarray
    styles: np.ndarray
    contents: np.ndarray
    window_frames: int
    skipped_clip_ids: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def num_skipped(self) -> int:
        return len(self.skipped_clip_ids)

    @classmethod
    def from_clips(
        cls,
        clips: Sequence[MotionClip],
        vocabulary: LabelVocabulary,
        config: FeatureConfig,
        allow_unlabelled: bool = False,
    ) -> WindowIndex:
        rows: list[tuple[int, int, int, int]] = []
        skipped: list[str] = []
        width = config.window_frames
        for clip_index, clip in enumerate(clips):
            if abs(clip.fps - config.fps) > 1e-6:
                raise FeatureError(f"clip {clip.clip_id} is at {clip.fps} fps, not {config.fps}")
            style = vocabulary.clip_style_index(clip, allow_unlabelled)
            if clip.num_frames < width:
                logger.info("skip clip %s: %d < %d frames", clip.clip_id, clip.num_frames, width)
                skipped.append(clip.clip_id)
                continue
            content = vocabulary.content_index(clip.content)
            starts = range(0, clip.num_frames - width + 1, config.stride_frames)
            rows.extend((clip_index, start, style, content) for start in starts)
        table = np.array(rows, dtype=np.int64).reshape(-1, 4)  # (N, 4)
        if skipped:
            logger.warning("%d clips shorter than %d frames skipped", len(skipped), width)
        return cls(*table.T.copy(), window_frames=width, skipped_clip_ids=tuple(skipped))


class WindowDataset(Dataset):
    """Windows of clips as normalised tokens `(W, 6, F_max)` and descriptors `(5, D)`.

    Whole-clip features (and, without augmentation, every window's descriptors) are computed
    once at construction, checked for NaN/inf (the error names the clip) and cached, so forked
    DataLoader workers share them; an item slices its window from the cache. With `augment`, the
    window's positions are augmented and its features recomputed.
    """

    def __init__(
        self,
        clips: Sequence[MotionClip],
        index: WindowIndex,
        config: FeatureConfig | None = None,
        stats: FeatureStats | None = None,
        augment: bool = False,
        augment_config: AugmentConfig | None = None,
    ) -> None:
        self.config = config or FeatureConfig()
        self.clips = (
            [retargeted(clip) for clip in clips] if self.config.retarget_bones else list(clips)
        )
        self.index = index
        self.stats = stats
        self.augment = augment
        self.augment_config = augment_config or AugmentConfig()
        self._features = {i: self._clip_features(i) for i in np.unique(index.clip_indices).tolist()}
        self._descriptors = (
            {} if augment else {i: self._descriptors_of(i) for i in range(len(index))}
        )

    def _clip_features(self, clip_index: int) -> np.ndarray:
        clip = self.clips[clip_index]
        tokens = clip_frame_features(clip.positions, clip.fps, self.config)  # (T, 6, F_max)
        check_finite(tokens, "frame features", clip.clip_id)
        return tokens

    def _descriptors_of(self, item: int) -> np.ndarray:
        clip, start = self.clips[self.index.clip_indices[item]], self.index.starts[item]
        window = clip.positions[start : start + self.index.window_frames]  # (W, J, 3)
        descriptors = window_descriptors(window, clip.fps, self.config)  # (5, D)
        check_finite(descriptors, "window descriptors", clip.clip_id)
        return descriptors

    def __len__(self) -> int:
        return len(self.index)

    def raw_window(
        self, item: int, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Un-normalised (tokens (W, 6, F_max), descriptors (5, D)); augmented when rng is given."""
        clip_index, start = int(self.index.clip_indices[item]), int(self.index.starts[item])
        clip, width = self.clips[clip_index], self.index.window_frames
        if rng is not None:
            window = augment_window(clip.positions, start, width, self.augment_config, rng)
            tokens, descriptors = window_features(window, clip.fps, self.config)
            check_finite(tokens, "augmented window features", clip.clip_id)
            return tokens, descriptors
        if item not in self._descriptors:
            self._descriptors[item] = self._descriptors_of(item)
        return self._features[clip_index][start : start + width], self._descriptors[item]

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        rng = None
        if self.augment:  # torch's generator is seeded per DataLoader worker and epoch
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
        tokens, descriptors = self.raw_window(item, rng)
        if self.stats is not None:
            tokens, descriptors = self.stats.normalise(tokens, descriptors)
        return {
            "tokens": torch.as_tensor(tokens, dtype=torch.float32),  # (W, 6, F_max)
            "descriptors": torch.as_tensor(descriptors, dtype=torch.float32),  # (5, D)
            "style": torch.tensor(int(self.index.styles[item]), dtype=torch.long),
            "content": torch.tensor(int(self.index.contents[item]), dtype=torch.long),
            "clip": torch.tensor(int(self.index.clip_indices[item]), dtype=torch.long),
        }

    def compute_stats(self, min_std: float = 1e-3) -> FeatureStats:
        """`FeatureStats` over every window of this dataset, un-augmented."""
        windows = (self.raw_window(item) for item in range(len(self)))
        return compute_feature_stats(windows, min_std=min_std)


@dataclass(frozen=True)
class WindowBatch:
    """A batch: tokens (B, W, 6, F_max), descriptors (B, 5, D), style/content/clip (B,) long."""

    tokens: torch.Tensor
    descriptors: torch.Tensor
    style: torch.Tensor
    content: torch.Tensor
    clip: torch.Tensor

    def __post_init__(self) -> None:
        size = self.tokens.shape[0]
        if self.tokens.ndim != 4 or self.tokens.shape[2] != NUM_TOKENS:
            raise ValueError(f"tokens must be (B, W, {NUM_TOKENS}, F), got {self.tokens.shape}")
        if self.descriptors.ndim != 3 or self.descriptors.shape[:2] != (size, NUM_PARTS):
            raise ValueError(
                f"descriptors must be (B, {NUM_PARTS}, D), got {self.descriptors.shape}"
            )
        for name in ("style", "content", "clip"):
            if getattr(self, name).shape != (size,):
                raise ValueError(f"{name} must be ({size},), got {getattr(self, name).shape}")

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def _map(self, function: Any) -> WindowBatch:
        return WindowBatch(**{f.name: function(getattr(self, f.name)) for f in fields(self)})

    def to(self, device: torch.device | str, non_blocking: bool = False) -> WindowBatch:
        return self._map(lambda tensor: tensor.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> WindowBatch:
        """Called by `DataLoader(pin_memory=True)` for fast host-to-GPU copies."""
        return self._map(lambda tensor: tensor.pin_memory())


def collate_windows(items: Sequence[dict[str, torch.Tensor]]) -> WindowBatch:
    """Stack `WindowDataset` items into a `WindowBatch`."""
    return WindowBatch(
        **{f.name: torch.stack([item[f.name] for item in items]) for f in fields(WindowBatch)}
    )
