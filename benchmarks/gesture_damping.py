"""Do stylized outputs keep the source's arm gestures? Wrist speed of outputs against sources.

Usage: python benchmarks/gesture_damping.py --run RUN[:SOURCE_NOISE] [...] --data ROOT
[--contents guide,byebye] [--styles angry,happy,old] [--strengths 0,1] [--steps 20]

Sources: the `normal` clips of the held-out contents (test split), whole clips through the
stylize path (windows, cross-fade). For each source: the mean speed of both wrists relative to
the pelvis (m/s), for the source itself, for its round trip through the run's space (encode +
decode, no diffusion: what the VAE alone loses), and for the outputs at each strength (mean over
the target styles, seed 0). A `RUN:0.5` entry samples with SDEdit from the source noised to
half the schedule. Outputs whose wrists move at a fraction of the source's have lost the gesture
(a wave turned into a raised hand), whatever the style classifier says. Diagnostic, not timing.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from models.diffusion.motion_repr import placement_of
from models.diffusion.stylize import (
    DiffusionStylizer,
    StyleTarget,
    _hold_last,
    _stitch,
    _window_plan,
)
from models.encoders.windows import load_clips
from storage.skeleton import CANONICAL_FPS, JOINT_INDEX

WRISTS = [JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]]
PELVIS = JOINT_INDEX["pelvis"]


def wrist_speed(positions: np.ndarray) -> float:
    """Mean speed (m/s) of both wrists relative to the pelvis over a clip `(T, J, 3)`."""
    relative = positions[:, WRISTS] - positions[:, PELVIS : PELVIS + 1]
    return float(np.linalg.norm(np.diff(relative, axis=0), axis=-1).mean() * CANONICAL_FPS)


@torch.no_grad()
def round_trip(stylizer: DiffusionStylizer, positions: np.ndarray) -> np.ndarray:
    """The clip encoded into the run's space and decoded back, window by window, stitched."""
    window = stylizer.window
    starts = _window_plan(len(positions), window)
    held = _hold_last(positions, window)
    pieces = [held[start : start + window] for start in starts]
    placements = [placement_of(piece) for piece in pieces]
    local = np.stack([p.to_local(piece) for p, piece in zip(placements, pieces, strict=True)])
    space = stylizer.run.space
    decoded = space.decode(space.encode(torch.as_tensor(local, dtype=torch.float32))).numpy()
    world = [p.to_world(w) for p, w in zip(placements, decoded, strict=True)]
    return _stitch(world, starts, len(positions), window)


def report(entry: str, args: argparse.Namespace) -> None:
    run_dir, _, noise = entry.partition(":")
    source_noise = float(noise) if noise else 1.0
    stylizer = DiffusionStylizer.load(run_dir, steps=args.steps, source_noise=source_noise)
    contents, styles = args.contents.split(","), args.styles.split(",")
    strengths = [float(s) for s in args.strengths.split(",")]
    clips = load_clips(args.data, splits=("test",))
    sources = [c for c in clips if c.style == "normal" and c.content in contents]
    print(f"{entry}: wrist speed relative to the pelvis (m/s), targets {styles}")
    for source in sorted(sources, key=lambda clip: clip.content or ""):
        row = [f"source {wrist_speed(source.positions):.3f}"]
        row.append(f"round trip {wrist_speed(round_trip(stylizer, source.positions)):.3f}")
        for strength in strengths:
            targets = [StyleTarget(style) for style in styles]
            outputs = stylizer.stylize([source] * len(styles), targets, strength, seed=0)
            row.append(f"strength {strength:g} {np.mean([wrist_speed(o) for o in outputs]):.3f}")
        print(f"  {source.content} ({len(source.positions)} frames): " + ", ".join(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", nargs="+", required=True, help="RUN or RUN:SOURCE_NOISE")
    parser.add_argument("--data", required=True)
    parser.add_argument("--contents", default="guide,byebye")
    parser.add_argument("--styles", default="angry,happy,old")
    parser.add_argument("--strengths", default="0,1")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    for entry in args.run:
        report(entry, args)


if __name__ == "__main__":
    main()
