"""Stylization speed: samples/s at 20 and 50 DDIM steps, batch 64, against the bare network.

Usage: python benchmarks/bench_stylize.py --run DIFFUSION_RUN [RUN ...] --data ROOT [--batch 64]
[--steps 20,50] [--device cpu|cuda] [--content-path generate|edit]

Several runs (e.g. a data-space run and a latent-mode run, `train-diffusion --latent-vae`) are
timed one after the other in the same process, so their rows compare.

A sample is one 2 s window (60 frames at 30 fps). The baseline is the denoiser alone: the same
number of forward passes on random inputs (two per DDIM step, conditional + unconditional, in
one batch); "ours" is `DiffusionStylizer.stylize_positions` on real clips: moving windows into
their frames, the frozen content encoder, guidance, DDIM and stitching back into world
positions. SMooDi's published figure for comparison is about 3.1 s per sample on a GPU.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import torch

from models.diffusion.stylize import DiffusionStylizer
from models.encoders.windows import load_clips


def bare_network(stylizer: DiffusionStylizer, batch: int, steps: int) -> float:
    model = stylizer.run.model
    c = model.config
    x = torch.randn(2 * batch, c.window_frames, c.motion_dim, device=stylizer.device)
    content = torch.randn(2 * batch, c.window_frames // c.content_stride, c.content_dim).to(x)
    styles = torch.randn(2 * batch, 6, c.style_dim).to(x)
    keep = torch.ones(2 * batch, dtype=torch.bool, device=x.device)
    trajectory = None
    if c.trajectory_dim:
        trajectory = torch.randn(2 * batch, c.window_frames, c.trajectory_dim).to(x)
    source = x if c.source_control else None
    start = time.perf_counter()
    with torch.no_grad():
        for step in range(steps):
            t = torch.full((2 * batch,), 999 - step, device=x.device)
            model(x, t, content, styles, keep, trajectory=trajectory, source=source)
    _sync(x.device)
    return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def ours(stylizer: DiffusionStylizer, windows: list[np.ndarray], steps: int) -> float:
    stylizer.steps = steps
    condition = stylizer.condition_of_label(stylizer.styles[0])
    start = time.perf_counter()
    stylizer.stylize_positions(windows, [condition] * len(windows), 1.5, seed=0)
    _sync(stylizer.device)
    return time.perf_counter() - start


def time_run(run: str, args: argparse.Namespace) -> None:
    stylizer = DiffusionStylizer.load(run, args.device, content_path=args.content_path)
    width = stylizer.window
    clips = [c for c in load_clips(args.data, splits=("test",)) if c.num_frames >= width]
    windows = [clips[i % len(clips)].positions[:width] for i in range(args.batch)]
    space = "latent" if stylizer.run.latent_vae is not None else "data"
    c = stylizer.run.model.config
    print(
        f"{run} ({space} space, {c.window_frames} x {c.motion_dim} per window, content path "
        f"{args.content_path}, source control {c.source_control}): device "
        f"{args.device}, {os.cpu_count()} cores, batch {args.batch} x {width} frames"
    )
    ours(stylizer, windows[:4], 2)  # warm-up
    for steps in (int(s) for s in args.steps.split(",")):
        bare = bare_network(stylizer, args.batch, steps)
        full = ours(stylizer, windows, steps)
        print(
            f"  {steps} DDIM steps: bare denoiser {args.batch / bare:.1f} samples/s, "
            f"stylize {args.batch / full:.1f} samples/s ({full / args.batch * 1000:.0f} ms per "
            f"sample), ours/bare {bare / full:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", nargs="+", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", default="20,50")
    parser.add_argument("--content-path", default="generate", help="generate | edit")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    for run in args.run:
        time_run(run, args)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
