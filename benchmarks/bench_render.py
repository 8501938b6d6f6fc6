"""Skeleton video rendering speed against an encode-only baseline (same frames count and size).

Usage: python benchmarks/bench_render.py [BVH] [--panels 2]
BVH defaults to $STYLEMOTION_DATA/motion/bandai_namco_1/dataset-1_walk_happy_001.bvh, repeated
to 1,000 frames. The baseline pipes one fixed frame through the same ffmpeg writer (H.264,
same preset), i.e. the cost of encoding alone; the render adds projection and drawing.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from extract.mocap.bvh_import import import_bvh
from extract.rendering.render import SkeletonPanel, render_skeleton_video
from extract.rendering.video_writer import FfmpegVideoWriter

SIZE = (960, 540)


def encode_only(num_frames: int, fps: float, out: Path) -> None:
    frame = np.full((SIZE[1], SIZE[0], 3), 240, np.uint8)
    frame[200:340, 400:560] = (40, 90, 200)  # something for the encoder to keep
    writer = FfmpegVideoWriter(out, SIZE, fps, crf=20)
    for _ in range(num_frames):
        writer.write(frame)
    writer.close()


def main() -> None:
    data = Path(os.environ.get("STYLEMOTION_DATA", "../shared/data"))
    default = data / "motion/bandai_namco_1/dataset-1_walk_happy_001.bvh"
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bvh", nargs="?", type=Path, default=default)
    parser.add_argument("--panels", type=int, default=1)
    parser.add_argument("--frames", type=int, default=1000)
    args = parser.parse_args()
    clip = import_bvh(args.bvh, dataset="bench", source_key=args.bvh.name)
    repeats = -(-args.frames // clip.num_frames)
    positions = np.concatenate([clip.positions] * repeats)[: args.frames]
    panels = [SkeletonPanel(positions, f"panel {i}") for i in range(args.panels)]
    out_dir = Path(tempfile.mkdtemp(prefix="bench-render-"))
    print(
        f"{args.frames} frames, {SIZE[0]}x{SIZE[1]}, {args.panels} panel(s), {os.cpu_count()} cores"
    )
    for name, work in (
        (
            "baseline: encode a fixed frame",
            lambda: encode_only(args.frames, clip.fps, out_dir / "a.mp4"),
        ),
        (
            "render_skeleton_video",
            lambda: render_skeleton_video(panels, clip.fps, out_dir / "b.mp4"),
        ),
    ):
        start = time.perf_counter()
        work()
        seconds = time.perf_counter() - start
        print(f"{name:<34} {seconds:6.2f} s {args.frames / seconds:7.1f} frames/s")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak_mib:.0f} MiB (ffmpeg runs as a child)")


if __name__ == "__main__":
    main()
