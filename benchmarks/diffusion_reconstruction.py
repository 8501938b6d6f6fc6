"""How well a diffusion run rebuilds real windows from their own conditions (no style).

Usage: python benchmarks/diffusion_reconstruction.py --run RUN [RUN ...] --data ROOT
[--split train|val|test] [--styles normal,angry] [--windows 64] [--steps 20]

For each run (base or adaptor stage; the adaptor is asked with the null style), on real windows
of the encoder split: the one-step x0 prediction from x_t at several noise levels t (MSE in the
model's space, mean joint speed and per-joint error in metres after decoding), then a full DDIM
sample from noise (speed, per-joint error, mean joint acceleration as a jitter measure). The
windows' own speed and acceleration are printed beside them: a model that copies x_t at low t,
samples at the windows' speed and acceleration, and keeps the error low rebuilds motion; damped
samples (speed below the truth) or jittery ones (acceleration far above it) show which way a
model fails. Diagnostic, not a timing: see bench_stylize.py for speed.
"""

from __future__ import annotations

import argparse

import torch

from models.diffusion.checkpoint import load_run_checkpoint
from models.diffusion.data import EncoderCodes, local_windows
from models.diffusion.motion_repr import trajectory_condition
from models.diffusion.schedule import NoiseSchedule
from models.encoders.run import load_encoder_run
from models.encoders.windows import WindowIndex, load_clips

NOISE_LEVELS = (10, 100, 300, 600, 900)


def speed(positions: torch.Tensor, fps: float) -> float:
    return float((positions[:, 1:] - positions[:, :-1]).norm(dim=-1).mean() * fps)


def acceleration(positions: torch.Tensor, fps: float) -> float:
    second = positions[:, 2:] - 2 * positions[:, 1:-1] + positions[:, :-2]
    return float(second.norm(dim=-1).mean() * fps * fps)


def windows_of(args: argparse.Namespace, run, features) -> torch.Tensor:
    styles = set(args.styles.split(","))
    clips = [c for c in load_clips(args.data, splits=(args.split,)) if c.style in styles]
    index = WindowIndex.from_clips(clips, run.vocabulary, features)
    return torch.as_tensor(local_windows(clips, index))[: args.windows]


@torch.no_grad()
def report(run_dir: str, args: argparse.Namespace) -> None:
    run = load_run_checkpoint(run_dir)
    model, space = run.model, run.space
    encoder = load_encoder_run(run.encoder_run)
    codes = EncoderCodes(encoder.model, encoder.stats, encoder.features)
    fps = encoder.features.fps
    local = windows_of(args, run, encoder.features)
    x0, content = space.encode(local), codes(local).z_content_seq.float()
    trajectory = None
    if model.config.trajectory_dim:
        trajectory = trajectory_condition(local, space.frame_factor, model.config.rhythm_condition)
    schedule = NoiseSchedule(run.train_config["diffusion_steps"])
    null_style = torch.zeros(len(local), dtype=torch.bool)
    generator = torch.Generator().manual_seed(0)

    def predict(x_t: torch.Tensor, t: int) -> torch.Tensor:
        batch_t = torch.full((len(local),), t)
        source = x0 if model.config.source_control else None  # the branch sees the true window
        return model(x_t, batch_t, content, None, null_style, trajectory=trajectory, source=source)

    space_name = "latent" if run.latent_vae is not None else "data"
    print(f"{run_dir} ({run.stage}, step {run.step}, {space_name} space): {len(local)} windows")
    print(
        f"  truth: speed {speed(local, fps):.3f} m/s, acceleration {acceleration(local, fps):.2f}"
    )
    for t in NOISE_LEVELS:
        noise = torch.randn(x0.shape, generator=generator)
        x_t = schedule.q_sample(x0, torch.full((len(local),), t), noise)
        prediction = predict(x_t, t)
        positions = space.decode(prediction)
        error = float((positions - local).norm(dim=-1).mean())
        mse = float((prediction - x0).pow(2).mean())
        print(f"  one step t={t}: x0 MSE {mse:.4f}, speed {speed(positions, fps):.3f}, "
              f"joint error {error:.3f} m")  # fmt: skip
    x = torch.randn(x0.shape, generator=generator)
    steps = schedule.ddim_timesteps(args.steps)
    for i, t in enumerate(steps):
        t_prev = steps[i + 1] if i + 1 < len(steps) else -1
        x = schedule.ddim_step(x, predict(x, t), t, t_prev).sample
    positions = space.decode(x)
    error = float((positions - local).norm(dim=-1).mean())
    moved = f"speed {speed(positions, fps):.3f}, acceleration {acceleration(positions, fps):.2f}"
    print(f"  DDIM {args.steps} steps from noise: {moved}, joint error {error:.3f} m")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", nargs="+", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--styles", default="normal,angry")
    parser.add_argument("--windows", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    for run in args.run:
        report(run, args)


if __name__ == "__main__":
    main()
