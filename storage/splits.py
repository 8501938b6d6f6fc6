"""Train/val/test assignment of clips: the one rule, decided at ingest and stored in the data.

The performer is not recorded in the mocap sets here, so the honest split is by content (hold
whole contents out as `test`, e.g. Bandai's guide + byebye), by (content, take) pairs, plus an
optional hash-based `val` fraction of the rest. The same clip always lands in the same split.
The ingest writes each clip's split into the clips table and the rule into every shard's
done-marker (it is part of the shard id, so a changed rule re-derives the shards); training,
evaluation and stylization read the stored `split` column and never decide a split themselves.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

from storage.errors import UserInputError
from storage.records import Split


class SplitRuleError(UserInputError, ValueError):
    """A split rule that cannot be applied (e.g. a val fraction outside [0, 1))."""


@dataclass(frozen=True)
class SplitRule:
    """Which clips are held out: whole contents, (content, take) pairs, a hashed val share."""

    test_contents: tuple[str, ...] = ()
    test_content_takes: tuple[tuple[str, str], ...] = ()
    val_fraction: float = 0.0
    test_fraction: float = 0.0  # held-out takes: this share of the rest, by clip-id hash

    def __post_init__(self) -> None:
        object.__setattr__(self, "test_contents", tuple(self.test_contents))
        pairs = tuple((str(c), str(t)) for c, t in self.test_content_takes)
        object.__setattr__(self, "test_content_takes", pairs)
        for name in ("val_fraction", "test_fraction"):
            fraction = getattr(self, name)
            if not (isinstance(fraction, int | float) and math.isfinite(fraction)):
                raise SplitRuleError(f"{name}: must be a number in [0, 1), got {fraction!r}")
            if not 0.0 <= fraction < 1.0:
                raise SplitRuleError(f"{name}: must lie in [0, 1), got {fraction}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise SplitRuleError("val_fraction + test_fraction: must stay below 1 (no train)")

    def split_of(self, clip_id: str, content: str | None, take: str | None) -> Split:
        if (content, take) in self.test_content_takes:
            return Split.TEST
        if self.test_fraction and _bucket(clip_id) >= 1.0 - self.test_fraction:
            return Split.TEST  # the top of the hash range: held-out takes of seen contents
        return assign_split(clip_id, content, self.test_contents, self.val_fraction)

    def describe(self) -> str:
        takes = [f"{content}:{take}" for content, take in self.test_content_takes]
        return (
            f"test = contents {list(self.test_contents)} + takes {takes} + "
            f"{self.test_fraction:g} of the rest by clip-id hash; "
            f"val = {self.val_fraction:g} of the rest by clip-id hash; train = the rest"
        )

    def as_settings(self) -> dict[str, object]:
        return {
            "test_contents": sorted(self.test_contents),
            "test_content_takes": sorted(list(pair) for pair in self.test_content_takes),
            "val_fraction": self.val_fraction,
        } | ({"test_fraction": self.test_fraction} if self.test_fraction else {})


def assign_split(
    clip_id: str,
    content: str | None,
    test_contents: Collection[str] = (),
    val_fraction: float = 0.0,
) -> Split:
    if not 0.0 <= val_fraction < 1.0:
        raise SplitRuleError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    if content is not None and content in test_contents:
        return Split.TEST
    return Split.VAL if _bucket(clip_id) < val_fraction else Split.TRAIN


def _bucket(clip_id: str) -> float:
    return int(clip_id[:8], 16) / 16**8  # uniform in [0, 1) for a hash-derived id
