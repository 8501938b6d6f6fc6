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

DEFAULT_DATA = os.environ.get("STYLEMOTION_DATA", "../shared/data")


def add_pipeline(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("pipeline", help="ingest -> label -> train -> evaluate")
    parser.add_argument("--data", default=DEFAULT_DATA, help="sample data (STYLEMOTION_DATA)")
    parser.add_argument("--out", default="out/pipeline", help="dataset, runs and previews here")
    parser.add_argument("--steps", type=int, default=300, help="encoder training steps")
    parser.add_argument("--tiny-model", action="store_true", help="a very small encoder")
    parser.add_argument("--no-videos", action="store_true", help="mocap only")
    parser.add_argument("--scene-model", help="CLIP weights for scene labels (else skipped)")
    parser.add_argument(
        "--training-mode", default="auto", choices=("auto", "deployment", "in-process")
    )
    parser.set_defaults(handler=run_pipeline)


def run_pipeline(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from flows.pipeline_flows import pipeline_flow
    from flows.sample_config import sample_pipeline_config
    from flows.validation import ParameterError

    if args.steps < 1:
        raise UsageError(f"--steps must be >= 1, got {args.steps}")
    config = sample_pipeline_config(
        args.data, args.out, args.steps, not args.no_videos, args.tiny_model
    )
    config = replace(config, scene_model=args.scene_model, training_mode=args.training_mode)
    try:
        outcome = pipeline_flow(config)
    except ParameterError as error:
        raise UsageError(str(error)) from error
    print(json.dumps(outcome, indent=2, default=str))
    print(f"dataset: {config.root}\nartifacts: {Path(args.out).resolve()}")
    return 0


PIPELINE_COMMANDS = (add_pipeline,)
