"""Evaluation subcommands of `stylemotion`: train-evaluator and evaluate (issue 7).

`train-evaluator` trains and freezes the independent evaluator once
(`models.evaluation.evaluator_train`, `--set key=value` on `TrainEvaluatorConfig`). `evaluate` runs
the baselines, the real data and, given `--run`, the diffusion model through
`models.evaluation.stylization_eval` on the held-out contents: sources are the `--source-style`
clips of the encoders' test split, targets every other style, references the test-split clips of
those styles, the baselines' pool the training split.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from flows.cli.common import UsageError, require_dataset
from flows.cli.config_args import add_config_arguments, build_config

DEFAULT_EVALUATOR = "runs/evaluator"


def add_train_evaluator(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train-evaluator", help="train + freeze the style evaluator")
    parser.add_argument("--data", required=True, help="dataset root with clip shards")
    parser.add_argument("--out", required=True, help="evaluator directory (evaluator.pt)")
    add_config_arguments(parser, "TrainEvaluatorConfig")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=run_train_evaluator)


def run_train_evaluator(args: argparse.Namespace) -> int:
    from models.evaluation.evaluator_train import (
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
    parser.add_argument("--data", required=True, help="dataset root with clip shards")
    parser.add_argument("--evaluator", default=DEFAULT_EVALUATOR, help="frozen evaluator dir")
    parser.add_argument("--strengths", default="1", help="comma list of style strengths")
    parser.add_argument("--seeds", default="0,1", help="comma list of seeds")
    parser.add_argument("--source-style", default="normal", help="style of the source clips")
    parser.add_argument("--styles", help="comma list of target styles (default: all others)")
    parser.add_argument("--baselines-only", action="store_true", help="skip the model")
    parser.add_argument("--no-parts", action="store_true", help="skip per-part targets")
    parser.add_argument("--ddim-steps", type=int, default=20, help="sampling steps of the model")
    parser.add_argument(
        "--source-noise",
        type=float,
        default=1.0,
        help="<1: the model starts from the noised source",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    parser.add_argument("--plot", type=Path, help="write the SRA vs content error sweep PNG")
    parser.set_defaults(handler=run_evaluate)


def load_model_stylizer(
    run_dir: str | Path, steps: int = 20, device: str = "cpu", source_noise: float = 1.0
):
    """The diffusion run at `run_dir` (adaptor stage) as a `Stylizer` of the evaluation harness."""
    from models.diffusion.checkpoint import DiffusionCheckpointError
    from models.diffusion.stylize import DiffusionStylizer, StylizeError
    from models.evaluation.stylization_eval import EvaluationError

    try:
        return DiffusionStylizer.load(run_dir, device, steps, source_noise)
    except (DiffusionCheckpointError, StylizeError) as error:
        raise EvaluationError(str(error)) from error


def _numbers(text: str, kind: type) -> list:
    try:
        return [kind(value) for value in text.split(",") if value.strip()]
    except ValueError as error:
        raise UsageError(f"bad number list {text!r}: {error}") from error


def evaluation_inputs(data: str, source_style: str, styles: str | None):
    """(sources, target styles, real reference clips, baseline pool) from a dataset root."""
    from extract.mocap.style_vocabulary import load_style_vocabulary
    from models.encoders.windows import load_clips

    vocabulary = load_style_vocabulary()  # styles asked by any dataset's name: the shared one
    source_style = vocabulary.resolve(source_style)
    styles = ",".join(vocabulary.resolve(s) for s in styles.split(",")) if styles else None
    require_dataset(data)
    held_out = load_clips(data, splits=("test",))
    sources = [clip for clip in held_out if clip.style == source_style]
    if not sources:
        raise UsageError(f"{data}: no '{source_style}' clips in the held-out (test) split")
    real = [clip for clip in held_out if clip.style not in (None, source_style)]
    targets = styles.split(",") if styles else sorted({clip.style for clip in real})
    return sources, targets, real, load_clips(data, splits=("train",))


def evaluation_report(args: argparse.Namespace) -> dict:
    from models.evaluation.baselines import baseline_stylizers
    from models.evaluation.evaluator import EvaluatorError, load_evaluator
    from models.evaluation.stylization_eval import EvaluationError, evaluate_stylizers

    sources, styles, real, pool = evaluation_inputs(args.data, args.source_style, args.styles)
    try:
        evaluator = load_evaluator(args.evaluator)
        stylizers = baseline_stylizers(pool)
        for run in [] if args.baselines_only else (args.run or []):
            model = load_model_stylizer(run, args.ddim_steps, source_noise=args.source_noise)
            if len(args.run) > 1:
                model.name = f"diffusion:{Path(run).name}"
            stylizers.append(model)
        return evaluate_stylizers(
            stylizers,
            sources,
            styles,
            evaluator,
            real,
            strengths=_numbers(args.strengths, float),
            seeds=_numbers(args.seeds, int),
            part_targets=not args.no_parts,
        )
    except (EvaluatorError, EvaluationError) as error:
        raise UsageError(str(error)) from error


def format_table(report: dict) -> str:
    """The report's rows as a markdown table (real data last)."""
    keys = (
        "sra",
        "content_accuracy",
        "content_accuracy_among_sources",
        "trajectory_error_m",
        "key_joint_error_m",
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


def check_evaluate_parameters(args: argparse.Namespace) -> None:
    """Strengths, seeds, DDIM steps and source noise checked before any model or data loads."""
    import math

    strengths, seeds = _numbers(args.strengths, float), _numbers(args.seeds, int)
    if not strengths or not seeds:
        raise UsageError("--strengths and --seeds each need at least one value")
    for strength in strengths:
        if not (math.isfinite(strength) and 0.0 <= strength <= 10.0):
            raise UsageError(f"--strengths {args.strengths}: each must lie in [0, 10]")
    if not 1 <= args.ddim_steps <= 1000:
        raise UsageError(f"--ddim-steps {args.ddim_steps}: must be in [1, 1000]")
    if not (math.isfinite(args.source_noise) and 0.0 < args.source_noise <= 1.0):
        raise UsageError(f"--source-noise {args.source_noise}: must lie in (0, 1]")


def run_evaluate(args: argparse.Namespace) -> int:
    from models.evaluation.stylization_eval import sweep_points
    from models.evaluation.sweep_plot import plot_strength_sweep

    check_evaluate_parameters(args)

    report = evaluation_report(args)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    if args.plot:
        plot_strength_sweep(sweep_points(report), args.plot)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
        print(f"{len(report['failures'])} items failed (reasons in the JSON report)")
    return 0


EVALUATE_COMMANDS = (add_train_evaluator, add_evaluate)
