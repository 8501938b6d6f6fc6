"""Evaluation subcommands of `stylemotion`: train-evaluator and evaluate (issue 7).

`train-evaluator` trains and freezes the independent evaluator once
(`models.evaluation.train_evaluator`, `--set key=value` on `TrainEvaluatorConfig`). `evaluate` runs
the baselines, the real data and, given `--run`, the diffusion model through
`models.evaluation.stylization_eval` on the held-out contents (given `--adain`, also the
feed-forward AdaIN runs of `train-adain`): sources are the `--source-style`
clips of the encoders' test split, targets every other style, references the test-split clips of
those styles, the baselines' pool the training split.
"""

from __future__ import annotations

import argparse
import json
import operator
from pathlib import Path

from flows.cli.common import UsageError, require_dataset
from flows.cli.config_args import add_config_arguments, build_config
from flows.jobs.evaluate import (
    DEFAULT_EVALUATOR,
    EvaluateConfig,
    evaluation_report,
    write_evaluation,
)


def add_train_evaluator(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train-evaluator", help="train + freeze the style evaluator")
    parser.add_argument("--data", required=True, help="dataset root with clip shards")
    parser.add_argument("--out", required=True, help="evaluator directory (evaluator.pt)")
    add_config_arguments(parser, "TrainEvaluatorConfig")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=run_train_evaluator)


def run_train_evaluator(args: argparse.Namespace) -> int:
    from models.evaluation.train_evaluator import (
        EvaluatorTrainingError,
        TrainEvaluatorConfig,
        train_evaluator,
    )

    require_dataset(args.data)
    config = build_config(TrainEvaluatorConfig, args, {"data": "data_root", "out": "out"})
    try:
        report = train_evaluator(config)
    except EvaluatorTrainingError as error:
        raise UsageError(str(error)) from error
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"froze evaluator {report['checkpoint']} (sha256 beside it)")
        print(f"held-out accuracy: {json.dumps(report['all_heldout'])}")
        print(f"held-out contents: {json.dumps(report['heldout_contents_test_split'])}")
    return 0


def add_evaluate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="score stylization + baselines on held-out")
    parser.add_argument(
        "--run",
        nargs="+",
        help="diffusion run directories (omit: baselines only); several "
        "runs are scored in one report, each named diffusion:<directory name>",
    )
    parser.add_argument(
        "--adain",
        nargs="+",
        help="train-adain run directories (feed-forward baseline); several are each named "
        "'feed-forward AdaIN:<directory name>'",
    )
    parser.add_argument("--data", required=True, help="dataset root with clip shards")
    parser.add_argument("--evaluator", help=f"frozen evaluator dir (default {DEFAULT_EVALUATOR})")
    parser.add_argument("--strengths", help="comma list of style strengths (default 2)")
    parser.add_argument("--seeds", help="comma list of seeds (default 0,1)")
    parser.add_argument("--source-style", help="style of the source clips (default normal)")
    parser.add_argument("--styles", help="comma list of target styles (default: all others)")
    parser.add_argument(
        "--baselines-only", action="store_true", default=None, help="no model (no --run, --adain)"
    )
    parser.add_argument("--no-parts", action="store_true", default=None, help="no part targets")
    parser.add_argument("--ddim-steps", type=int, help="sampling steps of the model (default 20)")
    parser.add_argument(
        "--source-noise", type=float, help="<1: the model starts from the noised source"
    )
    parser.add_argument(
        "--content-path",
        help="comma list of sampler content paths to score: generate (the model draws the "
        "motion), edit (it draws the change from the source); default edit",
    )
    add_config_arguments(parser, "EvaluateConfig")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    parser.add_argument("--plot", type=Path, help="write the SRA vs content error sweep PNG")
    parser.set_defaults(handler=run_evaluate)


def _numbers(text: str, kind: type) -> tuple:
    try:
        return tuple(kind(value) for value in text.split(",") if value.strip())
    except ValueError as error:
        raise UsageError(f"bad number list {text!r}: {error}") from error


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


EVALUATE_SHORTCUTS = {
    "data": "data",
    "run": ("runs", tuple),
    "adain": ("adain_runs", tuple),
    "evaluator": "evaluator",
    "strengths": ("strengths", lambda text: _numbers(text, float)),
    "seeds": ("seeds", lambda text: _numbers(text, int)),
    "source_style": "source_style",
    "styles": ("styles", _names),
    "baselines_only": "baselines_only",
    "no_parts": ("part_targets", operator.not_),
    "ddim_steps": "ddim_steps",
    "source_noise": "source_noise",
    "content_path": ("content_paths", _names),
}


def evaluate_config(args: argparse.Namespace) -> EvaluateConfig:
    """The `EvaluateConfig` of the command line (`evaluation_report` checks it first thing)."""
    return build_config(EvaluateConfig, args, EVALUATE_SHORTCUTS)


def format_table(report: dict) -> str:
    """The report's rows as a markdown table (real data last)."""
    keys = (
        "sra",
        "content_accuracy",
        "content_accuracy_among_sources",
        "trajectory_error_m",
        "key_joint_error_m",
        "wrist_speed_ratio",
        "timing_correlation",
        "foot_skate_ratio",
        "fd",
        "diversity",
        "part_leakage",
        "bone_length_std_m",
    )
    lines = ["| stylizer | strength | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
    for row in [*report["results"], report["real"]]:
        cells = ["-" if row[key] is None else f"{row[key]:.3f}" for key in keys]
        strength = "-" if row["strength"] is None else f"{row['strength']:g}"
        lines.append(f"| {row['stylizer']} | {strength} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_evaluate(args: argparse.Namespace) -> int:
    report = evaluation_report(evaluate_config(args))
    write_evaluation(report, args.out, args.plot)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
        print(f"{len(report['failures'])} items failed (reasons in the JSON report)")
    return 0


EVALUATE_COMMANDS = (add_train_evaluator, add_evaluate)
