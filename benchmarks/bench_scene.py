"""Scene labeller throughput on CPU: bare open_clip `encode_image` vs our CLIP labelling stage.

Usage: python benchmarks/bench_scene.py [--frames 48] [--repeats 3] [--sizes tiny vit-b-32]
Random weights (none can be downloaded here) in the tiny test configuration and in open_clip's
own ViT-B-32 configuration are saved to a temporary directory and loaded through the
user-facing loader. The frames are real photos from $STYLEMOTION_DATA/frames, shrunk to 384 px
and JPEG-encoded as the labeller stores keyframes. Baseline: open_clip's preprocess +
`encode_image` on the decoded frames in batches, nothing else. Ours:
`SceneLabeller.label_clips` with captions off and one keyframe per clip (JPEG decode, frame
checks, person box hidden, batched embedding, zero-shot probabilities, `SceneLabel` records).
Reports frames/s (best of `repeats`) and the ratio ours / baseline.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from extract.scene_labels.inputs import ClipKeyframes  # noqa: E402
from extract.scene_labels.keyframes import decode_jpeg, encode_jpeg  # noqa: E402
from extract.scene_labels.label_config import SceneLabelConfig, resolve_scene_config  # noqa: E402
from extract.scene_labels.labeller import load_scene_labeller  # noqa: E402
from tests.extract.scene_models import save_tiny_open_clip, save_vit_b32_open_clip  # noqa: E402

BUILDERS = {"tiny": save_tiny_open_clip, "vit-b-32": save_vit_b32_open_clip}
BOX = (0.3, 0.2, 0.6, 0.95)  # a person-sized box, so hiding the person is part of the cost


def load_frames(count: int) -> list[bytes]:
    data = Path(os.environ.get("STYLEMOTION_DATA", "../shared/data")) / "frames"
    paths = sorted(data.rglob("*.jpg"))
    frames = []
    for index in range(count):
        image = Image.open(paths[index % len(paths)]).convert("RGB")
        image.thumbnail((384, 384))
        frames.append(encode_jpeg(image))
    return frames


def best_of(repeats: int, work) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        timings.append(time.perf_counter() - start)
    return min(timings)


def bench_size(size: str, directory: Path, frames: list[bytes], args) -> tuple[float, float]:
    model_dir = BUILDERS[size](directory / size)
    config = resolve_scene_config(
        SceneLabelConfig(
            root=str(directory),
            clip_model=f"local-dir:{model_dir}",
            captions=False,
            batch_size=args.batch_size,
            num_keyframes=1,
        )  # fmt: skip
    )
    labeller = load_scene_labeller(config)
    clip = labeller.clip
    images = [decode_jpeg(data) for data in frames]

    def baseline() -> None:
        with torch.no_grad():
            for start in range(0, len(images), args.batch_size):
                batch = torch.stack(
                    [clip.preprocess(i) for i in images[start : start + args.batch_size]]
                )
                clip.model.encode_image(batch)

    clips = [
        ClipKeyframes(f"c{i}", "bench", "bench", (0.0,), (data,), (BOX,), "video")
        for i, data in enumerate(frames)
    ]
    baseline_s = best_of(args.repeats, baseline)
    ours_s = best_of(args.repeats, lambda: labeller.label_clips(clips))
    return len(frames) / baseline_s, len(frames) / ours_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sizes", nargs="+", default=list(BUILDERS), choices=list(BUILDERS))
    args = parser.parse_args()
    frames = load_frames(args.frames)
    machine = platform.processor() or platform.machine()
    threads = torch.get_num_threads()
    print(f"{machine}, {os.cpu_count()} cores, torch {torch.__version__}, {threads} threads")
    print("| model | baseline encode_image | label_clips (ours) | ours / baseline |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="bench-scene-") as directory:
        for size in args.sizes:
            baseline, ours = bench_size(size, Path(directory), frames, args)
            ratio = ours / baseline
            print(f"| {size} | {baseline:.1f} frames/s | {ours:.1f} frames/s | {ratio:.2f} |")


if __name__ == "__main__":
    main()
