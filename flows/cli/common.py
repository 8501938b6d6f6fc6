"""What the `stylemotion` subcommands share: the usage error and dataset/clip lookups."""

from __future__ import annotations

from storage.errors import UserInputError
from storage.records import MotionClip


class UsageError(UserInputError):
    """Input that stops a command; the message names the input and the reason."""


def require_dataset(root: str) -> None:
    from storage.shard_reader import ShardReader

    reader = ShardReader(root)
    if not reader.shard_ids():
        damaged = reader.damaged_shards()
        if damaged:
            raise UsageError(
                f"{root}: every shard is damaged ({len(damaged)}; e.g. {damaged[0].describe()}); "
                "re-run the stage that wrote them"
            )
        raise UsageError(f"{root}: no finished shards here (is this a dataset root?)")


def load_clip(root: str, clip_id: str) -> MotionClip:
    from storage.shard_reader import ClipNotFoundError, ShardReader

    require_dataset(root)
    try:
        return ShardReader(root).get_clip(clip_id)
    except ClipNotFoundError as error:
        raise UsageError(str(error.args[0])) from error
