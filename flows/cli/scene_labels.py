"""Scene subcommand of `stylemotion`: label-scenes.

`stylemotion label-scenes ROOT [--model M] [--caption-model M] [--vocab FILE] ...` labels every
video clip not yet labelled by this labeller (models + settings), with a progress bar, and ends
with the labeller's label histogram, unknown rate and skips by reason. Model and vocabulary
problems stop the command with exit code 2 and a message naming the setting.
"""

from __future__ import annotations

import argparse
import operator

from flows.cli.common import UsageError, require_dataset
from flows.cli.config_args import add_config_arguments, build_config


def add_label_scenes(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("label-scenes", help="CLIP / VLM scene labels for video clips")
    parser.add_argument("root", help="dataset root (path or URI)")
    parser.add_argument(
        "--model",
        help="open_clip model: local-dir:DIR or hf-hub:ORG/REPO (default $STYLEMOTION_SCENE_MODEL)",
    )
    parser.add_argument(
        "--caption-model",
        help="transformers image-text-to-text model id or directory "
        "(default $STYLEMOTION_CAPTION_MODEL; unset: no captions)",
    )
    parser.add_argument("--vocab", help="scene vocabulary file (text: one per line, or YAML)")
    flag = {"action": "store_true", "default": None}
    parser.add_argument("--no-zero-shot", **flag, help="switch CLIP labels off")
    parser.add_argument("--no-captions", **flag, help="switch VLM captions off")
    parser.add_argument("--threshold", type=float, help="below: label 'unknown' (default 0.25)")
    parser.add_argument("--keyframes", type=int, help="keyframes per clip (default 3)")
    parser.add_argument("--person", choices=("blur", "mask", "none"), help="default blur")
    parser.add_argument("--batch-size", type=int, help="default 32")
    parser.add_argument("--device", help="torch device (default: cuda if present, else cpu)")
    parser.add_argument("--offline", **flag, help="use only cached/local weights")
    parser.add_argument("--replace", **flag, help="remove other labellers' scene labels")
    add_config_arguments(parser, "SceneLabelConfig")
    parser.set_defaults(handler=run_label_scenes)


# The label-scenes arguments: shortcuts for SceneLabelConfig keys (name -> key[, converter]).
LABEL_SCENES_SHORTCUTS = {
    "root": "root",
    "model": "clip_model",
    "caption_model": "caption_model",
    "no_zero_shot": ("zero_shot", operator.not_),
    "no_captions": ("captions", operator.not_),
    "threshold": "unknown_threshold",
    "keyframes": "num_keyframes",
    "person": "person_mode",
    "batch_size": "batch_size",
    "device": "device",
    "offline": "offline",
    "replace": "replace",
}


def _config(args: argparse.Namespace):  # -> SceneLabelConfig
    from extract.scene_labels.labelling import SceneLabelConfig
    from extract.scene_labels.vocab import load_vocabulary

    vocabulary = {}
    if args.vocab:
        loaded = load_vocabulary(args.vocab)
        vocabulary = {"scenes": loaded.scenes, "templates": loaded.templates}
    return build_config(SceneLabelConfig, args, LABEL_SCENES_SHORTCUTS, vocabulary)


def run_label_scenes(args: argparse.Namespace) -> int:
    from extract.scene_labels.labelling import SceneConfigError, label_scenes
    from extract.scene_labels.model_loading import SceneModelError
    from extract.scene_labels.vocab import VocabularyError

    require_dataset(args.root)
    try:
        summary = label_scenes(_config(args), show_progress=True)
    except (SceneModelError, SceneConfigError, VocabularyError) as error:
        raise UsageError(str(error)) from error
    print(
        f"label-scenes: labeller {summary.labeller_id}: {summary.clip_shards} clip shards, "
        f"{summary.shards_written} labelled now, {summary.shards_skipped} already done, "
        f"{summary.shards_removed} scene shards removed; this run: {summary.clips_labelled} "
        f"clips labelled, {summary.clips_skipped} skipped"
    )
    total = sum(summary.labels.values())
    print(f"labels ({total} clips, unknown rate {summary.unknown_rate:.1%}):")
    for label, count in summary.labels.items():
        print(f"  {label:<24} {count}")
    print(f"skipped: {sum(summary.skipped_by_kind.values())}")
    for kind, count in summary.skipped_by_kind.items():
        print(f"  {kind:<24} {count}")
    return 0


SCENE_COMMANDS = (add_label_scenes,)
