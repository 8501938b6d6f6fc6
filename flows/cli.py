"""The `stylemotion` command line: one subcommand per user-facing job.

Each subcommand parses its arguments into the library's own config dataclasses and calls plain
functions from the other packages; heavy imports happen inside the subcommand so `--help` and
`inspect` stay fast. Exit codes: 0 success, 1 the job ran but recorded failures where the user
asked for none (`--strict`), 2 bad usage or input that stops the job (with a message naming it).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

logger = logging.getLogger("stylemotion")


class UsageError(Exception):
    """Input that stops a command; the message names the input and the reason."""


def _add_ingest_mocap(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ingest-mocap", help="import a directory of BVH files")
    parser.add_argument("src_dir", help="directory searched recursively for .bvh files")
    parser.add_argument("--out", required=True, help="dataset root (path or URI, e.g. s3://b/p)")
    parser.add_argument("--dataset", help="dataset name (default: the source directory's name)")
    parser.add_argument(
        "--label-pattern",
        help="regex with named groups style/content/take matched against each file's relative "
        "path without extension; default: Bandai-style JSON labels when _meta/cfg exists",
    )
    parser.add_argument("--licence", help="licence string (default: first line of _meta/LICENSE)")
    parser.add_argument("--shard-size", type=int, default=32, help="files per shard")
    parser.add_argument("--test-contents", default="", help="comma list of contents held out")
    parser.add_argument("--val-fraction", type=float, default=0.0)
    parser.add_argument("--scale", type=float, help="file units to metres (default: detected)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any file failed")
    parser.set_defaults(handler=run_ingest_mocap)


def run_ingest_mocap(args: argparse.Namespace) -> int:
    from extract.mocap_ingest import IngestError, MocapIngestConfig, ingest_mocap
    from storage.shard_reader import ShardReader

    config = MocapIngestConfig(
        src_dir=args.src_dir,
        out_root=args.out,
        dataset=args.dataset,
        label_pattern=args.label_pattern,
        licence=args.licence,
        shard_size=args.shard_size,
        test_contents=tuple(c for c in args.test_contents.split(",") if c),
        val_fraction=args.val_fraction,
        scale=args.scale,
    )
    try:
        summary = ingest_mocap(config, show_progress=True)
    except IngestError as error:
        raise UsageError(str(error)) from error
    print(
        f"ingest-mocap {config.dataset_name}: {summary.inputs} files, "
        f"{summary.shards_written} shards written, {summary.shards_skipped} already done, "
        f"{summary.shards_superseded} superseded removed; this run: {summary.clips} clips, "
        f"{summary.frames} frames, {summary.failures} failures"
    )
    failures = [
        f for f in ShardReader(config.out_root).failures() if f.dataset == config.dataset_name
    ]
    for failure in failures:
        print(f"  FAILED [{failure.error_kind}] {failure.message}")
    return 1 if (args.strict and failures) else 0


def _add_inspect(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("inspect", help="summarise a dataset root")
    parser.add_argument("root", help="dataset root (path or URI)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    from storage.shard_reader import ShardReader
    from storage.summary import format_summary, summarise_dataset

    _require_dataset(args.root)
    summary = summarise_dataset(ShardReader(args.root))
    print(json.dumps(asdict(summary), indent=2) if args.json else format_summary(summary))
    return 0


def _require_dataset(root: str) -> None:
    from storage.shard_reader import ShardReader

    if not ShardReader(root).shard_ids():
        raise UsageError(f"{root}: no finished shards here (is this a dataset root?)")


def _add_list_clips(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("list-clips", help="list clip ids with their labels")
    parser.add_argument("root")
    for name in ("style", "content", "dataset", "split"):
        parser.add_argument(f"--{name}", help=f"only clips with this {name}")
    parser.add_argument("--limit", type=int, help="at most this many")
    parser.add_argument("--ids-only", action="store_true", help="print only the clip ids")
    parser.set_defaults(handler=run_list_clips)


def run_list_clips(args: argparse.Namespace) -> int:
    from storage.shard_reader import ClipFilter, ShardReader

    _require_dataset(args.root)
    where = ClipFilter(
        style=args.style, content=args.content, dataset=args.dataset, split=args.split
    )
    rows = ShardReader(args.root).labels(where).sort_by("clip_id").to_pylist()[: args.limit]
    if not rows:
        raise UsageError(f"{args.root}: no clip matches {where}")
    for row in rows:
        fields = (row["clip_id"], row["dataset"], row["style"], row["content"], row["split"])
        print(
            row["clip_id"]
            if args.ids_only
            else "\t".join([*map(str, fields), str(row["num_frames"])])
        )
    return 0


def _add_export_bvh(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export-bvh", help="write one clip as a BVH file")
    parser.add_argument("root")
    parser.add_argument("clip_id")
    parser.add_argument("out", type=Path)
    parser.set_defaults(handler=run_export_bvh)


def _load_clip(root: str, clip_id: str):  # -> MotionClip
    from storage.shard_reader import ClipNotFoundError, ShardReader

    _require_dataset(root)
    try:
        return ShardReader(root).get_clip(clip_id)
    except ClipNotFoundError as error:
        raise UsageError(str(error.args[0])) from error


def run_export_bvh(args: argparse.Namespace) -> int:
    from storage.bvh_export import write_clip_bvh

    clip = _load_clip(args.root, args.clip_id)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_clip_bvh(clip, args.out)
    print(f"wrote {args.out} ({clip.num_frames} frames at {clip.fps:g} fps)")
    return 0


def _add_render(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("render", help="render one clip to a skeleton video (mp4)")
    parser.add_argument("root")
    parser.add_argument("clip_id")
    parser.add_argument("out", type=Path)
    parser.set_defaults(handler=run_render)


def run_render(args: argparse.Namespace) -> int:
    from extract.render import SkeletonPanel, render_skeleton_video

    clip = _load_clip(args.root, args.clip_id)
    title = " / ".join(str(x) for x in (clip.dataset, clip.style, clip.content) if x)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = render_skeleton_video(
        [SkeletonPanel(clip.positions, title)], clip.fps, args.out, show_progress=True
    )
    print(f"wrote {result.path} ({result.num_frames} frames, {result.width}x{result.height})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stylemotion", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add in (_add_ingest_mocap, _add_inspect, _add_list_clips, _add_export_bvh, _add_render):
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
