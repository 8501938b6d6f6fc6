"""The `stylemotion pipeline` subcommand: the whole Prefect pipeline on the sample data.

Runs the `pipeline` flow in this process. Without `PREFECT_API_URL` Prefect starts its
embedded server for the run (no set-up); with it, the run is recorded on that server and
training goes to its training deployment when a worker serves it (see README).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from flows.cli.common import UsageError
from flows.cli.config_args import add_config_arguments, build_config

DEFAULT_DATA = os.environ.get("STYLEMOTION_DATA", "../shared/data")


def add_pipeline(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pipeline", help="ingest -> label -> train -> diffusion -> stylize -> evaluate -> report"
    )
    parser.add_argument("--data", default=DEFAULT_DATA, help="sample data (STYLEMOTION_DATA)")
    parser.add_argument("--out", default="out/pipeline", help="dataset, runs and previews here")
    parser.add_argument("--steps", type=int, help="encoder training steps (default 300)")
    parser.add_argument("--tiny-model", action="store_true", help="a very small encoder")
    parser.add_argument("--no-videos", action="store_true", help="mocap only")
    parser.add_argument(
        "--no-stylize", action="store_true", help="stop after the encoders (no diffusion)"
    )
    parser.add_argument("--scene-model", help="CLIP weights for scene labels (else skipped)")
    parser.add_argument("--training-mode", choices=("auto", "deployment", "in-process"))
    add_config_arguments(parser, "PipelineConfig")
    parser.set_defaults(handler=run_pipeline)


PIPELINE_SHORTCUTS = {
    "scene_model": "scene_model",
    "training_mode": "training_mode",
    "steps": "train.steps",
}
DEFAULT_STEPS = 300


def pipeline_config(args: argparse.Namespace):  # -> PipelineConfig
    """The sample pipeline of the flags, then `--config`/`--set` over it (e.g. `train.steps`)."""
    from dataclasses import asdict

    from flows.pipeline_params import PipelineConfig
    from flows.sample_config import StylizationSchedule, sample_pipeline_config

    steps = DEFAULT_STEPS if args.steps is None else args.steps
    if steps < 1:
        raise UsageError(f"--steps must be >= 1, got {steps}")
    schedule = None if args.no_stylize else StylizationSchedule(tiny=args.tiny_model)
    sample = sample_pipeline_config(
        args.data, args.out, steps, not args.no_videos, args.tiny_model, schedule
    )
    return build_config(PipelineConfig, args, PIPELINE_SHORTCUTS, base=asdict(sample))


def run_pipeline(args: argparse.Namespace) -> int:
    from flows.pipeline_flows import pipeline_flow
    from flows.validation import ParameterError

    config = pipeline_config(args)
    try:
        outcome = pipeline_flow(config)
    except ParameterError as error:
        raise UsageError(str(error)) from error
    print(json.dumps(outcome, indent=2, default=str))
    print(f"dataset: {config.root}\nartifacts: {Path(args.out).resolve()}")
    return 0


PIPELINE_COMMANDS = (add_pipeline,)
