"""Scene-style subcommands of `stylemotion`: train-scene-encoder and evaluate-scene.

`train-scene-encoder --data ROOT --encoders RUN --out RUN [--config FILE] [--set KEY=VALUE]
[--clip-model SPEC]` trains `models.scene.train` (source "controlled" by default: the Bandai
construction; `--set source=video --set labeller_id=ID` for real scene labels). With
`--clip-model` the controlled scene names are embedded by that CLIP text tower (so images can
be given at stylization), else by fixed label vectors. `evaluate-scene --run RUN
[--text-model SPEC]` writes the with/without-scene report, the alpha sweep PNG and the
encoder-vs-text table (`models.scene.evaluate`) into RUN/eval (or `--out`). The work both
share with the `train-scene-encoder` flow lives in the job `flows.jobs.scene_style`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from flows.cli.common import UsageError
from flows.cli.config_args import add_config_arguments, build_config
from flows.jobs.scene_style import EvaluateSceneConfig, evaluate_scene_config, label_embeddings


def add_train_scene_encoder(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train-scene-encoder", help="train the scene encoder")
    parser.add_argument("--data", required=True, help="dataset root with clip shards")
    parser.add_argument("--encoders", required=True, help="train-encoders run (frozen)")
    parser.add_argument("--out", required=True, help="run directory")
    add_config_arguments(parser, "TrainSceneConfig")
    parser.add_argument("--clip-model", help="CLIP model embedding the scene names (optional)")
    parser.add_argument("--offline", action="store_true", help="only use cached model files")
    parser.set_defaults(handler=run_train_scene_encoder)


def scene_config(data: str, encoders: str, out: str, config_file: Path | None, overrides):
    from models.scene.train import TrainSceneConfig

    args = argparse.Namespace(data=data, encoders=encoders, out=out)
    args.config, args.set = config_file, overrides
    shortcuts = {"data": "data_root", "encoders": "encoder_run", "out": "out"}
    return build_config(TrainSceneConfig, args, shortcuts)


def run_train_scene_encoder(args: argparse.Namespace) -> int:
    from models.encoders.run import EncoderRunError
    from models.scene.data import SceneDataError
    from models.scene.encoder import SceneCheckpointError
    from models.scene.train import train_scene_encoder

    config = scene_config(args.data, args.encoders, args.out, args.config, args.set)
    embeddings = label_embeddings(args.clip_model, args.offline)
    try:
        run_dir = train_scene_encoder(config, embeddings)
    except (SceneDataError, SceneCheckpointError, EncoderRunError) as error:
        raise UsageError(str(error)) from error
    card = json.loads((run_dir / "run.json").read_text())
    print(f"trained scene encoder ({card['provenance']} data): {run_dir}")
    return 0


def add_evaluate_scene(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate-scene", help="scene vs no scene, alpha sweep")
    parser.add_argument("--run", required=True, help="train-scene-encoder run directory")
    parser.add_argument("--out", type=Path, help="report directory (default RUN/eval)")
    parser.add_argument("--text-model", help="text model of the scene-as-text ablation")
    parser.add_argument("--offline", action="store_true", default=None)
    parser.add_argument("--alphas", help="comma list (default 0,0.25,0.5,0.75,1,1.25,1.5,2)")
    parser.add_argument("--report-alpha", type=float, help="alpha of the table (default 1)")
    add_config_arguments(parser, "EvaluateSceneConfig")
    parser.set_defaults(handler=run_evaluate_scene)


def _alphas(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(a) for a in text.split(","))
    except ValueError as error:
        raise UsageError(f"--alphas {text!r}: {error}") from error


EVALUATE_SCENE_SHORTCUTS = {
    "run": "run",
    "out": ("out", str),
    "text_model": "text_model",
    "offline": "offline",
    "alphas": ("alphas", _alphas),
    "report_alpha": "report_alpha",
}


def run_evaluate_scene(args: argparse.Namespace) -> int:
    config = build_config(EvaluateSceneConfig, args, EVALUATE_SCENE_SHORTCUTS)
    evaluate_scene_config(config)
    out_dir = Path(config.out) if config.out else Path(config.run) / "eval"
    print((out_dir / "table.md").read_text(), end="")
    print(f"report, alpha sweep and table in {out_dir}")
    return 0


SCENE_STYLE_COMMANDS = (add_train_scene_encoder, add_evaluate_scene)
