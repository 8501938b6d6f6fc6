"""What the `stylemotion` subcommands share: the usage error and dataset/clip lookups."""

from __future__ import annotations

from storage.records import MotionClip


class UsageError(Exception):
    """Input that stops a command; the message names the input and the reason."""


def require_dataset(root: str) -> None:
    from storage.shard_reader import ShardReader

    if not ShardReader(root).shard_ids():
        raise UsageError(f"{root}: no finished shards here (is this a dataset root?)")


def load_clip(root: str, clip_id: str) -> MotionClip:
    from storage.shard_reader import ClipNotFoundError, ShardReader

    require_dataset(root)
    try:
        return ShardReader(root).get_clip(clip_id)
    except ClipNotFoundError as error:
        raise UsageError(str(error.args[0])) from error
