"""Diffusion subcommands of `stylemotion`: train-diffusion, train-vae and stylize.

`train-diffusion --stage base|adaptor` trains one stage (`models.diffusion.train`; config from
`--config FILE` and `--set key=value` like the encoders; `--latent-vae RUN` diffuses in the
latent of a `train-vae` run, `models.diffusion.train_vae`); `stylize` runs the batch job of
`flows.jobs.stylize` over shard roots, BVH folders or videos with a style label, reference clips
or reference videos, optionally per body part.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from flows.cli.common import UsageError


def add_train_diffusion(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train-diffusion", help="train the stylization diffusion")
    parser.add_argument("--data", required=True, help="dataset root with clip shards")
    parser.add_argument("--encoders", required=True, help="train-encoders run (frozen)")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--stage", choices=("base", "adaptor"), default="base")
    parser.add_argument("--base", help="base run the adaptor stage starts from")
    parser.add_argument("--latent-vae", help="train-vae run: diffuse in its latent (base stage)")
    parser.add_argument("--config", type=Path, help="YAML/JSON with TrainDiffusionConfig fields")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.set_defaults(handler=run_train_diffusion)


def diffusion_config(args: argparse.Namespace):
    from models.common.config_io import (
        ConfigError,
        apply_overrides,
        config_from_dict,
        load_config_file,
    )
    from models.diffusion.train import TrainDiffusionConfig

    fixed = {"data_root": args.data, "encoder_run": args.encoders, "out": args.out}
    fixed |= {"stage": args.stage, "base_run": args.base}
    if args.latent_vae:
        fixed["latent_vae"] = args.latent_vae
    try:
        values = load_config_file(args.config) if args.config else {}
        return config_from_dict(TrainDiffusionConfig, apply_overrides(values | fixed, args.set))
    except (ConfigError, ValueError) as error:
        raise UsageError(str(error)) from error


def run_train_diffusion(args: argparse.Namespace) -> int:
    from models.diffusion.train import train_diffusion
    from models.scene.finetune import SceneFusionTargets

    config = diffusion_config(args)
    try:
        run_dir = train_diffusion(config, show_progress=True, scene_fusion=SceneFusionTargets)
    except ValueError as error:  # DiffusionData-, DiffusionCheckpoint-, Evaluation-, VAERunError
        raise UsageError(str(error)) from error
    print(f"trained diffusion ({config.stage}): {run_dir}")
    return 0


def add_train_vae(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train-vae", help="train the motion VAE of the latent mode")
    parser.add_argument("--data", required=True, help="dataset root with clip shards")
    parser.add_argument("--encoders", required=True, help="train-encoders run (windows, split)")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--config", type=Path, help="YAML/JSON with TrainVAEConfig fields")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.set_defaults(handler=run_train_vae)


def run_train_vae(args: argparse.Namespace) -> int:
    from models.common.config_io import (
        ConfigError,
        apply_overrides,
        config_from_dict,
        load_config_file,
    )
    from models.diffusion.train_vae import TrainVAEConfig, train_vae

    fixed = {"data_root": args.data, "encoder_run": args.encoders, "out": args.out}
    try:
        values = load_config_file(args.config) if args.config else {}
        config = config_from_dict(TrainVAEConfig, apply_overrides(values | fixed, args.set))
    except (ConfigError, ValueError) as error:
        raise UsageError(str(error)) from error
    try:
        run_dir = train_vae(config, show_progress=True)
    except ValueError as error:  # DiffusionDataError, EncoderRunError, a VAE shape that won't fit
        raise UsageError(str(error)) from error
    report = json.loads((run_dir / "report.json").read_text())
    print(json.dumps({"run": str(run_dir)} | report, indent=2))
    return 0


def _parts(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    parts = {}
    for item in text.split(","):
        name, _, style = item.partition("=")
        if not name or not style:
            raise UsageError(f"--parts {text!r}: use PART=STYLE[,PART=STYLE] (e.g. arms=angry)")
        parts[name.strip()] = style.strip()
    return parts


def add_stylize(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("stylize", help="stylize source motion with a style")
    parser.add_argument("--run", required=True, help="diffusion run (adaptor stage)")
    parser.add_argument("--source", nargs="+", required=True, help="shard root | BVH | videos")
    parser.add_argument("--style", nargs="+", required=True, help="label | clips | videos")
    parser.add_argument("--parts", help="per-part styles, e.g. arms=angry,legs=normal")
    parser.add_argument("--strength", type=float, default=1.0, help="guidance scale (0-10)")
    parser.add_argument("--steps", type=int, default=20, help="DDIM steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--source-noise", type=float, default=1.0, help="<1: start from the noised source"
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("--source-split", help="with a shard root: only this split")
    parser.add_argument("--source-content", help="with a shard root: only this content")
    parser.add_argument("--source-style", help="with a shard root: only this style")
    parser.add_argument("--limit", type=int, help="at most this many source clips")
    parser.add_argument("--no-bvh", action="store_true")
    parser.add_argument(
        "--no-compose-parts",
        action="store_true",
        help="with --parts: keep the model's whole-body output (no source composition)",
    )
    parser.add_argument("--no-previews", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--scene", help="scene label, image or video (with --scene-run)")
    parser.add_argument("--scene-run", help="train-scene-encoder run")
    parser.add_argument("--scene-weight", type=float, default=0.5, help="alpha (0-2)")
    parser.add_argument("--clip-model", help="CLIP model for scene images/videos")
    parser.set_defaults(handler=run_stylize)


def run_stylize(args: argparse.Namespace) -> int:
    from flows.jobs.stylize import StylizeJobConfig, run_stylize_job
    from models.diffusion.checkpoint import DiffusionCheckpointError
    from models.diffusion.stylize import StylizeError

    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit {args.limit}: must be >= 1")
    config = StylizeJobConfig(
        run=args.run,
        sources=tuple(args.source),
        style=tuple(args.style),
        out=args.out,
        parts=_parts(args.parts),
        strength=args.strength,
        steps=args.steps,
        source_noise=args.source_noise,
        seed=args.seed,
        source_split=args.source_split,
        source_content=args.source_content,
        source_style=args.source_style,
        limit=args.limit,
        write_bvh=not args.no_bvh,
        write_previews=not args.no_previews,
        compose_parts=not args.no_compose_parts,
        device=args.device,
        scene=args.scene,
        scene_run=args.scene_run,
        scene_weight=args.scene_weight,
        clip_model=args.clip_model,
    )
    try:
        summary = run_stylize_job(config, show_progress=True)
    except (StylizeError, DiffusionCheckpointError) as error:
        raise UsageError(str(error)) from error
    print(
        json.dumps(
            {
                "stylized": summary.stylized,
                "failed": summary.failed,
                "shards": summary.shards,
                "previews": summary.previews[:5],
            },
            indent=2,
        )
    )
    return 0 if summary.stylized else 1


DIFFUSION_COMMANDS = (add_train_diffusion, add_train_vae, add_stylize)
