"""Feed-forward subcommand of `stylemotion`: train-adain, the learned baseline of the diffusion.

`train-adain --data ROOT --encoders RUN --out DIR` trains the one-pass AdaIN stylizer of
`models.feedforward` with the frozen encoders of a train-encoders run (settings from `--config
FILE` and `--set key=value` on `TrainAdaINConfig`, like train-diffusion); `evaluate --adain
RUN` scores it beside the baselines and the diffusion runs (`flows.cli.evaluate`).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from flows.cli.common import UsageError
from flows.cli.config_args import add_config_arguments, build_config

if TYPE_CHECKING:
    from models.feedforward.train import TrainAdaINConfig


def add_train_adain(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-adain",
        help="train the feed-forward AdaIN stylizer (baseline)",
        description="Settings: TrainAdaINConfig defaults < --config FILE < flags < --set.",
    )
    parser.add_argument("--data", required=True, help="dataset root with clip shards")
    parser.add_argument("--encoders", required=True, help="train-encoders run (frozen)")
    parser.add_argument("--out", required=True, help="run directory")
    add_config_arguments(parser, "TrainAdaINConfig")
    parser.set_defaults(handler=run_train_adain)


ADAIN_SHORTCUTS = {"data": "data_root", "encoders": "encoder_run", "out": "out"}


def adain_config(args: argparse.Namespace) -> TrainAdaINConfig:
    from models.feedforward.train import TrainAdaINConfig

    return build_config(TrainAdaINConfig, args, ADAIN_SHORTCUTS)


def run_train_adain(args: argparse.Namespace) -> int:
    from models.feedforward.train import train_adain

    config = adain_config(args)
    try:
        run_dir = train_adain(config, show_progress=True)
    except ValueError as error:  # DiffusionDataError, EncoderRunError, a bad setting
        raise UsageError(str(error)) from error
    print(f"trained feed-forward AdaIN stylizer: {run_dir}")
    return 0


FEEDFORWARD_COMMANDS = (add_train_adain,)
