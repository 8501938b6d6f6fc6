"""Mocap ingest throughput (frames/s) against a bare parse + forward-kinematics baseline.

Usage: python benchmarks/bench_ingest.py [SRC_DIR] [--repeats 3]
SRC_DIR defaults to $STYLEMOTION_DATA/motion/bandai_namco_1. The baseline reads every BVH file
and runs forward kinematics only (the unavoidable work); the stage adds labels, joint mapping,
unit detection, resampling, canonical placement, validation and the Parquet shard writes.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

from extract.mocap.ingest import MocapIngestConfig, ingest_mocap
from storage.bvh import forward_kinematics, read_bvh


def bare_parse(paths: list[Path]) -> int:
    frames = 0
    for path in paths:
        positions = forward_kinematics(read_bvh(path))
        frames += positions.shape[0]
    return frames


def full_ingest(src_dir: Path) -> int:
    out = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        return ingest_mocap(MocapIngestConfig(str(src_dir), str(out))).frames
    finally:
        shutil.rmtree(out)


def best_of(repeats: int, work) -> tuple[float, int]:
    timings, frames = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        frames = work()
        timings.append(time.perf_counter() - start)
    return min(timings), frames


def main() -> None:
    default = Path(os.environ.get("STYLEMOTION_DATA", "../shared/data")) / "motion/bandai_namco_1"
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("src_dir", nargs="?", type=Path, default=default)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    paths = sorted(args.src_dir.rglob("*.bvh"))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"input: {args.src_dir} ({len(paths)} files), best of {args.repeats}")
    for name, work in (
        ("baseline: read_bvh + forward_kinematics", lambda: bare_parse(paths)),
        ("stylemotion ingest-mocap (to shards)", lambda: full_ingest(args.src_dir)),
    ):
        seconds, frames = best_of(args.repeats, work)
        print(f"{name:<42} {frames:>7} frames {seconds:6.2f} s {frames / seconds:9.0f} frames/s")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
