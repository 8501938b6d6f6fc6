"""Shard read throughput: our streaming reader into numpy clips vs plain pyarrow read_table.

Usage: python benchmarks/bench_shard_read.py [ROOT] [--repeats 5]
Without ROOT the Bandai set ($STYLEMOTION_DATA/motion/bandai_namco_1) is ingested into a temporary
root first. Reports clips/s, on-disk MB/s and decoded-array MB/s for: the baseline
`pyarrow.parquet.read_table` of the same files (Arrow only, no numpy), `ShardReader.iter_clips`
(MotionClip objects with numpy arrays, records validated), and a filtered read (one style).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from extract.mocap.ingest import MocapIngestConfig, ingest_mocap
from storage.shard_reader import ClipFilter, ShardReader


def clip_files(root: Path) -> list[Path]:
    return [root / "clips" / f"{s}.parquet" for s in ShardReader(root).shard_ids()]


def read_baseline(files: list[Path]) -> tuple[int, int]:
    tables = [pq.read_table(path) for path in files]
    return sum(t.num_rows for t in tables), sum(t.nbytes for t in tables)


def read_clips(root: Path, where: ClipFilter | None = None) -> tuple[int, int]:
    clips = bytes_out = 0
    for clip in ShardReader(root).iter_clips(where):
        clips += 1
        bytes_out += clip.positions.nbytes + clip.confidence.nbytes + clip.root_trajectory.nbytes
    return clips, bytes_out


def best_of(repeats: int, work) -> tuple[float, tuple[int, int]]:
    timings, result = [], (0, 0)
    for _ in range(repeats):
        start = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - start)
    return min(timings), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", nargs="?", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    root = args.root
    if root is None:
        data = Path(os.environ.get("STYLEMOTION_DATA", "../shared/data"))
        root = Path(tempfile.mkdtemp(prefix="bench-read-"))
        ingest_mocap(MocapIngestConfig(str(data / "motion/bandai_namco_1"), str(root)))
    files = clip_files(root)
    disk_mb = sum(path.stat().st_size for path in files) / 1e6
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; root {root}")
    print(f"{len(files)} clip shards, {disk_mb:.2f} MB on disk (zstd), best of {args.repeats}")
    for name, work in (
        ("baseline: pyarrow.parquet.read_table", lambda: read_baseline(files)),
        ("ShardReader.iter_clips -> numpy", lambda: read_clips(root)),
        (
            "ShardReader.iter_clips(style=happy)",
            lambda: read_clips(root, ClipFilter(style="happy")),
        ),
    ):
        seconds, (clips, decoded) = best_of(args.repeats, work)
        print(
            f"{name:<40} {clips:>5} clips {seconds * 1000:7.1f} ms {clips / seconds:8.0f} clips/s"
            f" {disk_mb / seconds:7.1f} MB/s disk {decoded / 1e6 / seconds:7.1f} MB/s decoded"
        )


if __name__ == "__main__":
    main()
