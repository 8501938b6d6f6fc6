"""Feed-forward AdaIN stylization speed: samples/s at batch 64 beside the diffusion stylizer.

Usage: python benchmarks/bench_adain.py --adain ADAIN_RUN [RUN ...] --data ROOT
[--diffusion DIFFUSION_RUN] [--steps 20] [--batch 64] [--repeats 3] [--device cpu|cuda]

A sample is one 2 s window (60 frames at 30 fps) of a real test-split clip. Timed, in one
process so the rows compare: `AdaINStylizer.stylize_positions` (placing windows in their frames,
the frozen encoders on the source for its own codes, the one network pass, stitching back to
world positions), the AdaIN network alone on random standardised windows, and, given
`--diffusion` (an adaptor run), `DiffusionStylizer.stylize_positions` at `--steps` DDIM steps
(the same windows, the same condition). Each figure is the median of `--repeats` timed runs
after one warm-up. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from models.encoders.windows import load_clips
from models.feedforward.stylize import AdaINStylizer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(work: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median seconds of `repeats` runs of `work` after one warm-up."""
    work()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        work()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def real_windows(data: str, width: int, batch: int) -> list[np.ndarray]:
    clips = [c for c in load_clips(data, splits=("test",)) if c.num_frames >= width]
    if not clips:
        raise SystemExit(f"{data}: no test-split clip of {width} frames or more")
    return [clips[i % len(clips)].positions[:width] for i in range(batch)]


def row(name: str, device: torch.device, batch: int, seconds: float) -> str:
    return (
        f"| {name} | {device.type} | {batch} | {batch / seconds:.1f} | "
        f"{seconds / batch * 1000:.2f} |"
    )


def adain_rows(run: str, windows: list[np.ndarray], args: argparse.Namespace) -> list[str]:
    stylizer = AdaINStylizer.load(run, args.device)
    condition = stylizer.condition_of_label(stylizer.styles[0])
    device, batch = stylizer.device, len(windows)
    full = timed(
        lambda: stylizer.stylize_positions(windows, [condition] * batch, 1.0),
        device,
        args.repeats,
    )
    net, c = stylizer.run.model, stylizer.run.model.config
    x = torch.randn(batch, c.window_frames, c.motion_dim, device=device)
    vectors = torch.randn(batch, c.style_tokens, c.style_dim, device=device)

    def bare() -> None:
        with torch.no_grad():
            net(x, vectors)

    name = f"feed-forward AdaIN ({Path(run).name}, {c.channels} ch x {c.num_layers} layers)"
    return [
        row(f"{name}: stylize", device, batch, full),
        row(f"{name}: network alone", device, batch, timed(bare, device, args.repeats)),
    ]


def diffusion_row(run: str, windows: list[np.ndarray], args: argparse.Namespace) -> str:
    from models.diffusion.stylize import DiffusionStylizer

    stylizer = DiffusionStylizer.load(run, args.device, steps=args.steps)
    condition = stylizer.condition_of_label(stylizer.styles[0])
    seconds = timed(
        lambda: stylizer.stylize_positions(windows, [condition] * len(windows), 1.0, seed=0),
        stylizer.device,
        args.repeats,
    )
    name = f"diffusion ({Path(run).name}), {args.steps} DDIM steps: stylize"
    return row(name, stylizer.device, len(windows), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adain", nargs="+", required=True, help="train-adain runs")
    parser.add_argument("--data", required=True, help="dataset root (test-split windows)")
    parser.add_argument("--diffusion", help="a diffusion adaptor run timed in the same process")
    parser.add_argument("--steps", type=int, default=20, help="DDIM steps of the diffusion")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    width = AdaINStylizer.load(args.adain[0], args.device).window
    windows = real_windows(args.data, width, args.batch)
    print(
        f"device {args.device}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
        f"batch {args.batch} x {width} frames, median of {args.repeats}\n"
    )
    print("| stylizer | device | batch | samples/s | ms per sample |")
    print("|---|---|---:|---:|---:|")
    for run in args.adain:
        print("\n".join(adain_rows(run, windows, args)))
    if args.diffusion:
        print(diffusion_row(args.diffusion, windows, args))


if __name__ == "__main__":
    main()
