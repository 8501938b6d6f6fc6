"""Style-balanced batch sampling for supervised contrastive training (DDP-aware).

Owns which windows form a batch: several styles with several windows each, so every anchor has
positives, rare styles seen as often as common ones, deterministic per seed and epoch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

logger = logging.getLogger(__name__)


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
