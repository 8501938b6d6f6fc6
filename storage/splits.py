"""Train/val/test assignment of clips, deterministic from the clip id and labels.

The performer is not recorded in the mocap sets here, so the honest split is by content
(hold whole contents out as `test`, e.g. Bandai's guide + byebye) plus an optional
hash-based `val` fraction of the rest. The same clip always lands in the same split.
"""

from __future__ import annotations

from collections.abc import Collection

from storage.records import Split


def assign_split(
    clip_id: str,
    content: str | None,
    test_contents: Collection[str] = (),
    val_fraction: float = 0.0,
) -> Split:
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    if content is not None and content in test_contents:
        return Split.TEST
    bucket = int(clip_id[:8], 16) / 16**8  # uniform in [0, 1) for a hash-derived id
    return Split.VAL if bucket < val_fraction else Split.TRAIN
