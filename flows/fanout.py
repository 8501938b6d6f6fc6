"""Fan-out of one task per shard and the gathering of what came back.

A shard task that keeps failing after its retries must not stop the other shards: the flow
submits every shard, waits for all of them, keeps the small stats of those that finished and
the reason of those that did not, reports both, and only then fails the run
(`ShardsFailedError`), so the next run redoes exactly the missing shards (done-markers).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from prefect.futures import PrefectFuture

logger = logging.getLogger(__name__)


class ShardsFailedError(RuntimeError):
    """Some shards failed after their retries; the others are done and the message lists both."""


def gather_shards(
    futures: Mapping[str, PrefectFuture],
) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """Wait for every shard task: (stats by shard id, failure reason by shard id)."""
    finished: dict[str, dict[str, int]] = {}
    failed: dict[str, str] = {}
    for shard_id, future in futures.items():
        try:
            finished[shard_id] = future.result()
        except Exception as error:  # the task's own error, after its retries
            failed[shard_id] = f"{type(error).__name__}: {error}"
            logger.error("shard %s failed after retries: %s", shard_id, failed[shard_id])
    return finished, failed


def sum_stats(results: Iterable[Mapping[str, int]], keys: Iterable[str]) -> dict[str, int]:
    rows = list(results)
    return {key: sum(int(row.get(key, 0)) for row in rows) for key in keys}


def raise_if_shards_failed(stage: str, failed: Mapping[str, str], finished: int) -> None:
    if failed:
        listing = "; ".join(f"{shard}: {reason}" for shard, reason in failed.items())
        raise ShardsFailedError(
            f"{stage}: {len(failed)} shard(s) failed after retries ({finished} finished; "
            f"re-run to redo only the failed ones): {listing}"
        )
