"""Model subcommands of `stylemotion`: train-encoders, eval-encoders, ablate-encoders.

Configs come from the library's dataclasses: `--config FILE` (YAML/JSON, nested like
`TrainEncodersConfig`, or `EvalConfig` for eval-encoders) and `--set key=value` overrides
(dotted keys), never one flag per field (`flows.cli.config_args`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from flows.cli.common import UsageError
from flows.cli.config_args import add_config_arguments, build_config


def add_train_encoders(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train-encoders", help="train the content/style encoders")
    parser.add_argument("--data", required=True, help="dataset root with clip shards")
    parser.add_argument("--out", required=True, help="run directory (resumed if it has one)")
    add_config_arguments(parser, "TrainEncodersConfig")
    parser.set_defaults(handler=run_train_encoders)


def train_config(data: str, out: str, config_file: Path | None, overrides: list[str]):
    from models.encoders.train_config import TrainEncodersConfig

    args = argparse.Namespace(data=data, out=out, config=config_file, set=overrides)
    return build_config(TrainEncodersConfig, args, {"data": "data_root", "out": "out"})


def run_train_encoders(args: argparse.Namespace) -> int:
    from models.encoders.encoder import CheckpointError
    from models.encoders.train import train_encoders
    from models.encoders.training_data import TrainingDataError

    config = train_config(args.data, args.out, args.config, args.set)
    try:
        run_dir = train_encoders(config, show_progress=True)
    except (TrainingDataError, CheckpointError) as error:
        raise UsageError(str(error)) from error
    print(f"trained encoders: {run_dir}")
    return 0


def add_eval_encoders(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval-encoders", help="score a run on held-out clips")
    parser.add_argument("--run", required=True, help="train-encoders run directory")
    parser.add_argument("--data", help="dataset root of the query clips (default: the run's)")
    parser.add_argument("--split", help="split of the query clips (default test)")
    parser.add_argument("--label-map", type=Path, help="JSON: dataset style -> trained style")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    add_config_arguments(parser, "EvalConfig")
    parser.set_defaults(handler=run_eval_encoders)


def eval_config(args: argparse.Namespace):  # -> EvalConfig
    """`eval-encoders`' EvalConfig: defaults < --config < flags (`--label-map` read) < --set."""
    from models.encoders.evaluate import EvalConfig

    label_map = args.label_map
    mapping = json.loads(label_map.read_text(encoding="utf-8")) if label_map else None
    shortcuts = {"run": "run", "data": "data_root", "split": "split"}
    derived = {"label_map": mapping} if mapping is not None else {}
    return build_config(EvalConfig, args, shortcuts, derived)


def evaluate_config(config) -> dict:  # config: EvalConfig
    from models.encoders.evaluate import EvaluationError, evaluate_encoders, write_report
    from models.encoders.run import EncoderRunError

    out_dir = Path(config.run) / "eval"
    name = config.split if config.use_style_eraser else f"{config.split}_no_eraser"
    try:
        report = evaluate_encoders(config, plot_path=out_dir / f"style_pca_{name}.png")
    except (EncoderRunError, EvaluationError) as error:
        raise UsageError(str(error)) from error
    write_report(report, out_dir / f"report_{name}.json")  # the eraser-off one beside, not over
    return report


def evaluate_run(run: str, data: str | None, split: str, label_map: Path | None) -> dict:
    args = argparse.Namespace(run=run, data=data, split=split, label_map=label_map)
    return evaluate_config(eval_config(args))


def run_eval_encoders(args: argparse.Namespace) -> int:
    config = eval_config(args)
    report = evaluate_config(config)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        for key in ("style_knn_top1", "style_linear_probe", "style_from_content_leakage"):
            print(f"{key}: {report[key]}")
        print(f"style_knn_top1_per_clip: {report['style_knn_top1_per_clip']}")
        print(f"part_style_knn_top1: {report['part_style_knn_top1']}")
        print(f"report and plot in {Path(config.run) / 'eval'}")
    return 0


def add_ablate_encoders(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ablate-encoders", help="train + evaluate every ablation")
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True, help="one run directory per variant in here")
    add_config_arguments(parser, "TrainEncodersConfig")
    parser.add_argument("--variants", help="comma list (default: all)")
    parser.add_argument("--seeds", default="0", help="comma list of seeds, e.g. 0,1,2 (default 0)")
    parser.add_argument("--table", type=Path, help="also write the markdown table here")
    parser.set_defaults(handler=run_ablate_encoders)


def run_ablate_encoders(args: argparse.Namespace) -> int:
    from models.encoders.ablation import ABLATIONS, format_ablation_table, run_ablations
    from models.encoders.train import train_encoders

    def train(name: str, overrides: list[str], run_dir: Path) -> Path:
        print(f"ablation {name}: {' '.join(overrides) or '(full method)'}")
        config = train_config(args.data, str(run_dir), args.config, [*args.set, *overrides])
        return train_encoders(config, show_progress=True)

    def evaluate(run_dir: Path) -> dict:
        return evaluate_run(str(run_dir), None, "test", None)

    variants = args.variants.split(",") if args.variants else None
    unknown = [name for name in variants or [] if name not in ABLATIONS]
    if unknown:
        raise UsageError(f"--variants: unknown {unknown}; known: {', '.join(ABLATIONS)}")
    rows = run_ablations(Path(args.out), train, evaluate, variants, _seeds(args.seeds))
    table = format_ablation_table(rows)
    print(table)
    if args.table:
        args.table.write_text(table + "\n", encoding="utf-8")
    return 0


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(item) for item in text.split(","))
    except ValueError:
        raise UsageError(f"--seeds {text!r}: expected a comma list of integers") from None
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds {text!r}: a seed is listed twice")
    return seeds


MODEL_COMMANDS = (add_train_encoders, add_eval_encoders, add_ablate_encoders)
