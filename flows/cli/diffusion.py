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
import operator

from flows.cli.common import UsageError
from flows.cli.config_args import add_config_arguments, build_config


def add_train_diffusion(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train-diffusion", help="train the stylization diffusion")
    parser.add_argument("--data", required=True, help="dataset root with clip shards")
    parser.add_argument("--encoders", required=True, help="train-encoders run (frozen)")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--stage", choices=("base", "adaptor"), help="default base")
    parser.add_argument("--base", help="base run the adaptor stage starts from")
    parser.add_argument("--latent-vae", help="train-vae run: diffuse in its latent (base stage)")
    add_config_arguments(parser, "TrainDiffusionConfig")
    parser.set_defaults(handler=run_train_diffusion)


DIFFUSION_SHORTCUTS = {"data": "data_root", "encoders": "encoder_run", "out": "out"}
DIFFUSION_SHORTCUTS |= {"stage": "stage", "base": "base_run", "latent_vae": "latent_vae"}


def diffusion_config(args: argparse.Namespace):
    from models.diffusion.train import TrainDiffusionConfig

    return build_config(TrainDiffusionConfig, args, DIFFUSION_SHORTCUTS)


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
    add_config_arguments(parser, "TrainVAEConfig")
    parser.set_defaults(handler=run_train_vae)


def run_train_vae(args: argparse.Namespace) -> int:
    from models.diffusion.train_vae import TrainVAEConfig, train_vae

    shortcuts = {"data": "data_root", "encoders": "encoder_run", "out": "out"}
    config = build_config(TrainVAEConfig, args, shortcuts)
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
    parser = subparsers.add_parser(
        "stylize",
        help="stylize source motion with a style",
        description="Settings: StylizeJobConfig defaults < --config FILE < flags < --set.",
    )
    parser.add_argument("--run", required=True, help="diffusion run (adaptor stage)")
    parser.add_argument("--source", nargs="+", required=True, help="shard root | BVH | videos")
    parser.add_argument("--style", nargs="+", required=True, help="label | clips | videos")
    parser.add_argument("--parts", help="per-part styles, e.g. arms=angry,legs=normal")
    parser.add_argument("--strength", type=float, help="guidance scale (0-10; default 2)")
    parser.add_argument("--steps", type=int, help="DDIM steps (default 20)")
    parser.add_argument("--seed", type=int, help="default 0")
    parser.add_argument(
        "--source-noise", type=float, help="<1: start from the noised source (default 1)"
    )
    parser.add_argument(
        "--content-path",
        help="edit (default): the model draws the change from the source; generate: the motion",
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("--source-split", help="with a shard root: only this split")
    parser.add_argument("--source-content", help="with a shard root: only this content")
    parser.add_argument("--source-style", help="with a shard root: only this style")
    parser.add_argument("--limit", type=int, help="at most this many source clips")
    parser.add_argument("--no-bvh", action="store_true", default=None)
    parser.add_argument(
        "--no-compose-parts",
        action="store_true",
        default=None,
        help="with --parts: keep the model's whole-body output (no source composition)",
    )
    parser.add_argument("--no-previews", action="store_true", default=None)
    parser.add_argument("--device", help="torch device (default cpu)")
    parser.add_argument("--scene", help="scene label, image or video (with --scene-run)")
    parser.add_argument("--scene-run", help="train-scene-encoder run")
    parser.add_argument("--scene-weight", type=float, help="alpha (0-2; default 0.5)")
    parser.add_argument("--clip-model", help="CLIP model for scene images/videos")
    add_config_arguments(parser, "StylizeJobConfig")
    parser.set_defaults(handler=run_stylize)


# The stylize flags: shortcuts for StylizeJobConfig keys (argparse name -> key[, converter]).
STYLIZE_SHORTCUTS = {
    "run": "run",
    "source": "sources",
    "style": "style",
    "out": "out",
    "parts": ("parts", _parts),
    "strength": "strength",
    "steps": "steps",
    "source_noise": "source_noise",
    "content_path": "content_path",
    "seed": "seed",
    "source_split": "source_split",
    "source_content": "source_content",
    "source_style": "source_style",
    "limit": "limit",
    "no_bvh": ("write_bvh", operator.not_),
    "no_previews": ("write_previews", operator.not_),
    "no_compose_parts": ("compose_parts", operator.not_),
    "device": "device",
    "scene": "scene",
    "scene_run": "scene_run",
    "scene_weight": "scene_weight",
    "clip_model": "clip_model",
}


def run_stylize(args: argparse.Namespace) -> int:
    from flows.jobs.stylize import StylizeJobConfig, run_stylize_job
    from models.diffusion.checkpoint import DiffusionCheckpointError
    from models.diffusion.stylize import StylizeError

    config = build_config(StylizeJobConfig, args, STYLIZE_SHORTCUTS)
    if config.limit is not None and config.limit < 1:
        raise UsageError(f"--limit {config.limit}: must be >= 1")
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
