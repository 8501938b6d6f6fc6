"""Training windows for the contrastive encoders: labels, split, window index, dataset, sampler.

Owns the path from finished clip shards to batches the encoders train on. Clips are loaded
through `storage.shard_reader` and split by `split_of` (a rule on content/take/clip id, so the
encoder split does not depend on ingest options); `LabelVocabulary` maps style and content names
to indices; `WindowIndex` lists every window start of every clip (windows are cut at load time,
never stored); `WindowDataset` serves normalised `models.features` tokens and descriptors, with
optional augmentation on positions; `StyleBalancedBatchSampler` builds batches of several styles
with several windows each, so every batch holds positives for a supervised contrastive loss.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from models.features import (
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
from storage.canonical import rotation_about_y
from storage.records import MotionClip, Split
from storage.shard_reader import ClipFilter, ShardReader
from storage.skeleton import MIRROR_INDEX
from storage.splits import assign_split

logger = logging.getLogger(__name__)

UNKNOWN_LABEL = -1


class UnlabelledClipError(ValueError):
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


@dataclass(frozen=True)
class SplitRule:
    """Which clips are held out: whole contents, (content, take) pairs, a hashed val share."""

    test_contents: tuple[str, ...] = ("guide", "byebye")
    test_content_takes: tuple[tuple[str, str], ...] = (("walk", "002"),)
    val_fraction: float = 0.1


DEFAULT_SPLIT_RULE = SplitRule()


def split_of(clip: MotionClip, rule: SplitRule = DEFAULT_SPLIT_RULE) -> str:
    """'test', 'val' or 'train' for a clip, from its labels and id only (not its stored split)."""
    return split_of_labels(clip.clip_id, clip.content, clip.take, rule)


def split_of_labels(
    clip_id: str, content: str | None, take: str | None, rule: SplitRule = DEFAULT_SPLIT_RULE
) -> str:
    """`split_of` from a clip's label columns (no arrays needed)."""
    if (content, take) in rule.test_content_takes:
        return Split.TEST.value
    return assign_split(clip_id, content, rule.test_contents, rule.val_fraction).value


def default_split_note() -> str:
    """The default encoder split on Bandai Namco, in words (for logs and run cards)."""
    return (
        "Encoder split (models.windows.split_of, whatever the ingest options): test = contents "
        "guide + byebye (as `ingest-mocap --test-contents guide,byebye`) plus walk take 002; "
        "val = a deterministic 10 % of the rest by clip-id hash; train = the rest: walk 001, "
        "run, dash, walk-back/-left/-right, bow, bye and the normal-only contents (call, punch, "
        "slash, kick, respond, dance-short). Clips shorter than a window give no windows."
    )


def load_clips(
    root: str | Path,
    splits: str | Sequence[str] | None = ("train",),
    datasets: str | Sequence[str] | None = None,
    rule: SplitRule = DEFAULT_SPLIT_RULE,
) -> list[MotionClip]:
    """Clips of the finished shards under `root` whose `split_of` is in `splits` (None: all).

    The split is decided on the label columns first, so only the wanted clips' arrays are read.
    """
    reader = ShardReader(str(root))
    where = ClipFilter(dataset=datasets)
    if splits is not None:
        wanted = {Split(name).value for name in ([splits] if isinstance(splits, str) else splits)}
        labels = reader.labels(where).to_pylist()
        clip_ids = [
            row["clip_id"]
            for row in labels
            if split_of_labels(row["clip_id"], row["content"], row["take"], rule) in wanted
        ]
        where = ClipFilter(dataset=datasets, clip_id=clip_ids)
    clips = list(reader.iter_clips(where)) if where.clip_id != [] else []
    logger.info("loaded %d clips (splits %s) from %s", len(clips), splits, root)
    return clips


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


@dataclass(frozen=True)
class AugmentConfig:
    """Position-space augmentations, each switchable.

    Joint noise is a per-joint offset held over the window (`joint_noise_std_m`, 1 cm) plus a small
    per-frame jitter: i.i.d. 1 cm per frame would add ~0.4 m/s of velocity noise at 30 fps and
    swamp the 0.35 m/s contact threshold. `rotate` is a no-op on `models.features` (they live
    in the facing frame; the tests check it) and is kept for consumers of raw positions.
    """

    noise: bool = True
    joint_noise_std_m: float = 0.01
    frame_noise_std_m: float = 0.002
    rotate: bool = True
    speed_change: bool = True
    speed_range: tuple[float, float] = (0.9, 1.1)
    mirror: bool = True
    mirror_probability: float = 0.5


def mirror_positions(positions: np.ndarray) -> np.ndarray:
    """Left/right mirror of positions `(T, J, 3)`: x -> -x and left/right joints swapped."""
    mirrored = positions[:, list(MIRROR_INDEX)].copy()  # (T, J, 3)
    mirrored[..., 0] *= -1.0
    return mirrored


def rotate_positions(positions: np.ndarray, angle: float) -> np.ndarray:
    """Positions `(T, J, 3)` turned by `angle` radians about the vertical axis through 0."""
    return (positions @ rotation_about_y(angle).T.astype(positions.dtype)).astype(np.float32)


def resample_window(positions: np.ndarray, start: int, num_frames: int, speed: float) -> np.ndarray:
    """`num_frames` frames `(W, J, 3)` sampled every `speed` source frames around a window.

    The span stays centred on the window `[start, start + W)` and is shifted (and `speed`
    reduced) to fit inside the clip; linear interpolation between neighbouring frames.
    """
    last = positions.shape[0] - 1
    speed = min(speed, last / max(num_frames - 1, 1))
    offset = start + 0.5 * (num_frames - 1) * (1.0 - speed)
    offset = float(np.clip(offset, 0.0, last - speed * (num_frames - 1)))
    times = offset + speed * np.arange(num_frames)  # (W,) source frame times
    lower = np.clip(np.floor(times).astype(np.int64), 0, last)  # (W,)
    upper = np.minimum(lower + 1, last)
    weight = (times - lower)[:, None, None]  # (W, 1, 1)
    mixed = (1.0 - weight) * positions[lower] + weight * positions[upper]  # (W, J, 3)
    return mixed.astype(np.float32)


def augment_window(
    positions: np.ndarray,
    start: int,
    num_frames: int,
    config: AugmentConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """An augmented window `(W, J, 3)` cut from a clip's positions `(T, J, 3)`."""
    if config.speed_change:
        speed = rng.uniform(*config.speed_range)
        window = resample_window(positions, start, num_frames, speed)  # (W, J, 3)
    else:
        window = positions[start : start + num_frames].copy()  # (W, J, 3)
    if config.mirror and rng.random() < config.mirror_probability:
        window = mirror_positions(window)
    if config.rotate:
        window = rotate_positions(window, rng.uniform(-np.pi, np.pi))
    if config.noise:
        offsets = rng.normal(0.0, config.joint_noise_std_m, (1, *window.shape[1:]))  # (1, J, 3)
        jitter = rng.normal(0.0, config.frame_noise_std_m, window.shape)  # (W, J, 3)
        window = (window + offsets + jitter).astype(np.float32)
    return window


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
        self.clips = list(clips)
        self.index = index
        self.config = config or FeatureConfig()
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


class _CyclingQueue:
    """Shuffled window indices of one style, reshuffled when used up; `take` never repeats."""

    def __init__(self, indices: np.ndarray, rng: np.random.Generator) -> None:
        self.indices, self.rng = indices, rng
        self.order, self.position = rng.permutation(indices), 0

    def take(self, count: int) -> list[int]:
        if self.position + count > len(self.order):
            rest = self.order[self.position :]
            others = self.rng.permutation(np.setdiff1d(self.indices, rest))
            self.order, self.position = np.concatenate([rest, others]), 0
        chosen = self.order[self.position : self.position + count]
        self.position += count
        return chosen.tolist()


class StyleBalancedBatchSampler(Sampler[list[int]]):
    """Batches of `styles_per_batch` distinct styles x `windows_per_style` windows each.

    Styles are drawn uniformly per batch (so rare styles are seen as often as common ones);
    windows of a style cycle through a shuffle of all its windows. Deterministic per
    (seed, epoch; call `set_epoch`). Every rank builds the same global batch sequence and keeps
    batches `rank::world_size`, so DDP ranks see different batches and the same count.
    Windows with style -1 and styles with fewer than `windows_per_style` windows are left out.
    `batches_per_epoch` counts all ranks together (default: labelled windows // batch size).
    """

    def __init__(
        self,
        style_of_window: Sequence[int] | np.ndarray,
        styles_per_batch: int,
        windows_per_style: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        batches_per_epoch: int | None = None,
    ) -> None:
        styles = np.asarray(style_of_window, dtype=np.int64)  # (N,)
        pools = {int(s): np.flatnonzero(styles == s) for s in np.unique(styles[styles >= 0])}
        small = sorted(s for s, pool in pools.items() if len(pool) < windows_per_style)
        if small:
            logger.warning("styles %s have < %d windows; left out", small, windows_per_style)
        self.pools = {s: pool for s, pool in pools.items() if s not in small}
        if len(self.pools) < styles_per_batch:
            raise ValueError(
                f"{len(self.pools)} styles have >= {windows_per_style} windows, "
                f"need {styles_per_batch} per batch"
            )
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.styles_per_batch, self.windows_per_style = styles_per_batch, windows_per_style
        self.seed, self.rank, self.world_size, self.epoch = seed, rank, world_size, 0
        batch_size = styles_per_batch * windows_per_style
        total = batches_per_epoch or int((styles >= 0).sum()) // batch_size
        self.num_batches = max(1, total // world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        style_ids = np.array(sorted(self.pools))
        queues = {s: _CyclingQueue(self.pools[s], rng) for s in style_ids.tolist()}
        for batch in range(self.num_batches * self.world_size):
            chosen = rng.choice(style_ids, size=self.styles_per_batch, replace=False)
            windows = [w for s in chosen.tolist() for w in queues[s].take(self.windows_per_style)]
            if batch % self.world_size == self.rank:
                yield windows
