"""The `stylemotion` command line: one subcommand per user-facing job.

Subcommands live in `flows.cli.dataset` (mocap ingest, inspect, export, render),
`flows.cli.video` (crawl, extract, ingest-videos), `flows.cli.scene_labels` (label-scenes),
`flows.cli.encoders` (train-encoders, eval-encoders, ablate-encoders), `flows.cli.diffusion`
(train-diffusion, train-vae, stylize), `flows.cli.feedforward` (train-adain: the AdaIN
baseline), `flows.cli.evaluate` (train-evaluator, evaluate),
`flows.cli.scene_style` (train-scene-encoder, evaluate-scene), `flows.cli.pipeline`
(pipeline: the Prefect flow of every stage) and `flows.cli.report` (report: a static HTML page
of the runs); path arguments are checked first
(`flows.cli.paths`). A command that runs a job builds that job's config dataclass the same way
everywhere (`flows.cli.config_args`): defaults < `--config FILE` < its flags < `--set KEY=VALUE`.
The command line calls the library, the jobs (`flows.jobs`) and the flows; nothing else in
`flows/` imports it.
Exit codes: 0 success,
1 the job ran but recorded failures where the user asked for none (`--strict`), or an internal
error (one line; its traceback under `-v`), 2 bad usage or input that stops the job: one line
`stylemotion CMD: error: <input>: <reason>`, never a traceback. An input error is any exception
marked `storage.errors.UserInputError` (bad files, settings, checkpoints, paths) or an `OSError`
naming a file (permission denied, read-only, not a directory).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from flows.cli.common import UsageError
from flows.cli.dataset import DATASET_COMMANDS
from flows.cli.diffusion import DIFFUSION_COMMANDS
from flows.cli.encoders import MODEL_COMMANDS
from flows.cli.evaluate import EVALUATE_COMMANDS
from flows.cli.feedforward import FEEDFORWARD_COMMANDS
from flows.cli.paths import check_path_arguments
from flows.cli.pipeline import PIPELINE_COMMANDS
from flows.cli.report import REPORT_COMMANDS
from flows.cli.scene_labels import SCENE_COMMANDS
from flows.cli.scene_style import SCENE_STYLE_COMMANDS
from flows.cli.video import VIDEO_COMMANDS
from flows.logging_setup import TaskRunChatter
from storage.errors import UserInputError, cut_message


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stylemotion", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(dest="command", required=True)
    commands = (*DATASET_COMMANDS, *VIDEO_COMMANDS, *SCENE_COMMANDS, *MODEL_COMMANDS)
    commands = (*commands, *DIFFUSION_COMMANDS, *FEEDFORWARD_COMMANDS, *EVALUATE_COMMANDS)
    commands = (*commands, *SCENE_STYLE_COMMANDS)
    for add in (*commands, *PIPELINE_COMMANDS, *REPORT_COMMANDS):
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:  # the console: no per-task INFO chatter
        if not any(isinstance(f, TaskRunChatter) for f in handler.filters):
            handler.addFilter(TaskRunChatter())
    try:
        check_path_arguments(args.command, args)
        return args.handler(args)
    except (UsageError, UserInputError) as error:
        return _refuse(args.command, str(error))
    except OSError as error:
        if error.filename is None:
            return _internal_error(args, error)
        return _refuse(args.command, f"{error.filename}: {error.strerror or error}")
    except KeyboardInterrupt:
        print(f"stylemotion {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        return _internal_error(args, error)


def _refuse(command: str, message: str) -> int:
    print(f"stylemotion {command}: error: {cut_message(message, 1000)}", file=sys.stderr)
    return 2


def _internal_error(args: argparse.Namespace, error: Exception) -> int:
    """A bug or an environment failure: the traceback under -v, one line otherwise."""
    if args.verbose:
        raise error
    reason = cut_message(f"{type(error).__name__}: {error}", 1000)
    print(
        f"stylemotion {args.command}: internal error: {reason} (run with -v for the traceback)",
        file=sys.stderr,
    )
    return 1
