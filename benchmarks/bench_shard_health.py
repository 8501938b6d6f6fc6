"""What self-verifying shards cost a reader: the done-marker check against the marker-only one.

Usage: python benchmarks/bench_shard_health.py ROOT [--repeats 5]
Times, over every shard of ROOT: the old check (the done-marker exists), the new first check
(`storage.shard_health.shard_problem`: marker parsed, a stat per table file, the Parquet footer's
row count and schema metadata) and `ShardReader.shard_ids()` once its per-process cache is warm.
"""

from __future__ import annotations

import argparse
import platform
import time

from storage.filesystem import open_location
from storage.shard_health import done_marker_path, shard_problem
from storage.shard_reader import ShardReader


def _best_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    location = open_location(args.root)
    shard_ids = ShardReader(location).shard_ids()
    marker_only = _best_ms(
        lambda: [location.exists(done_marker_path(location, s)) for s in shard_ids], args.repeats
    )
    full_check = _best_ms(lambda: [shard_problem(location, s) for s in shard_ids], args.repeats)
    cached = _best_ms(lambda: ShardReader(location).shard_ids(), args.repeats)
    print(f"machine: {platform.processor() or platform.machine()}, {len(shard_ids)} shards")
    print(f"marker exists (before):   {marker_only:8.2f} ms")
    print(
        f"full check (first read):  {full_check:8.2f} ms ({full_check / len(shard_ids):.2f}/shard)"
    )
    print(f"shard_ids, cache warm:    {cached:8.2f} ms")


if __name__ == "__main__":
    main()
