"""The `stylemotion` command line: one subcommand per user-facing job.

Subcommands live in `flows.cli_dataset` (mocap ingest, inspect, export, render) and
`flows.cli_video` (crawl, extract, ingest-videos), `flows.cli_scene` (label-scenes) and
`flows.cli_models` (train-encoders, eval-encoders, ablate-encoders), `flows.cli_evaluate`
(train-evaluator, evaluate), `flows.cli_pipeline` (pipeline: the Prefect flow of every stage).
Exit codes: 0 success,
1 the job ran but recorded failures where the user asked for none (`--strict`), 2 bad usage or
input that stops the job (with a message naming it).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from flows.cli_common import UsageError
from flows.cli_dataset import DATASET_COMMANDS
from flows.cli_diffusion import DIFFUSION_COMMANDS
from flows.cli_evaluate import EVALUATE_COMMANDS
from flows.cli_models import MODEL_COMMANDS
from flows.cli_pipeline import PIPELINE_COMMANDS
from flows.cli_scene import SCENE_COMMANDS
from flows.cli_scene_style import SCENE_STYLE_COMMANDS
from flows.cli_video import VIDEO_COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stylemotion", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(dest="command", required=True)
    commands = (*DATASET_COMMANDS, *VIDEO_COMMANDS, *SCENE_COMMANDS, *MODEL_COMMANDS)
    commands = (*commands, *DIFFUSION_COMMANDS, *EVALUATE_COMMANDS)
    commands = (*commands, *SCENE_STYLE_COMMANDS)
    for add in (*commands, *PIPELINE_COMMANDS):
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except UsageError as error:
        print(f"stylemotion {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
