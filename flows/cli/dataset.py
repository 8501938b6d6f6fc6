"""Dataset subcommands of `stylemotion`: ingest-mocap, inspect, list-clips, export-bvh, render.

Each parses its arguments into the library's config dataclasses and calls plain functions of
the other packages; heavy imports happen inside the handlers so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from flows.cli.common import UsageError, load_clip, require_dataset
from flows.cli.config_args import add_config_arguments, build_config


def add_ingest_mocap(subparsers: argparse._SubParsersAction) -> None:
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
    parser.add_argument("--shard-size", type=int, help="files per shard (default 32)")
    parser.add_argument("--test-contents", help="comma list of contents held out")
    parser.add_argument("--test-takes", help="comma list of CONTENT:TAKE pairs held out (walk:002)")
    parser.add_argument(
        "--val-fraction", type=float, help="share of the rest in val, by clip id (default 0)"
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        help="held-out takes: share of the other contents in test, by clip id (default 0)",
    )
    parser.add_argument("--scale", type=float, help="file units to metres (default: detected)")
    parser.add_argument(
        "--style-vocabulary",
        help="YAML mapping of this dataset's style names to shared ones "
        "(default: extract/mocap/style_vocabulary.yaml)",
    )
    parser.add_argument(
        "--joint-map",
        metavar="FILE",
        help="YAML/JSON mapping `canonical_joint: source_joint` for all 19 canonical joints, "
        "for a rig no known family or naming convention matches (wins over detection)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 if any file failed")
    add_config_arguments(parser, "MocapIngestConfig")
    parser.set_defaults(handler=run_ingest_mocap)


def _contents(text: str) -> tuple[str, ...]:
    return tuple(c for c in text.split(",") if c)


# The ingest-mocap arguments: shortcuts for MocapIngestConfig keys (name -> key[, converter]).
INGEST_MOCAP_SHORTCUTS = {
    "src_dir": "src_dir",
    "out": "out_root",
    "dataset": "dataset",
    "label_pattern": "label_pattern",
    "licence": "licence",
    "shard_size": "shard_size",
    "test_contents": ("test_contents", _contents),
    "val_fraction": "val_fraction",
    "scale": "scale",
    "test_takes": ("test_content_takes", lambda text: _content_takes(text)),
    "style_vocabulary": "style_vocabulary",
    "test_fraction": "test_fraction",
    "joint_map": "joint_map",
}


def run_ingest_mocap(args: argparse.Namespace) -> int:
    from extract.mocap.ingest import MocapIngestConfig, ingest_mocap
    from storage.shard_reader import ShardReader

    config = build_config(MocapIngestConfig, args, INGEST_MOCAP_SHORTCUTS)
    summary = ingest_mocap(config, show_progress=True)
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
    if summary.label_warning:
        print(f"WARNING: {summary.label_warning}", file=sys.stderr)
    if summary.style_names:
        renamed = ", ".join(f"{own} -> {shared}" for own, shared in summary.style_names.items())
        print(f"  styles under their shared names (style vocabulary): {renamed}")
    if summary.unlabelled:
        print(f"  {summary.unlabelled} clip(s) of {config.dataset_name} have no style label")
    for error in summary.shard_errors:
        print(f"stylemotion ingest-mocap: error: {error}", file=sys.stderr)
    if summary.shard_errors:
        return 1
    return 1 if (args.strict and failures) else 0


def _content_takes(text: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in (part.strip() for part in text.split(",")):
        content, separator, take = item.partition(":")
        if item and not (separator and content and take):
            raise UsageError(f"--test-takes {item!r}: use CONTENT:TAKE (e.g. walk:002)")
        if item:
            pairs.append((content, take))
    return tuple(pairs)


def add_inspect(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("inspect", help="summarise a dataset root")
    parser.add_argument("root", help="dataset root (path or URI)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    from storage.scene_summary import format_scene_summary, scene_failures_by_kind, summarise_scenes
    from storage.schema import SCENES_TABLE, VIDEOS_TABLE
    from storage.shard_reader import ShardReader
    from storage.summary import (
        format_summary,
        format_video_summary,
        summarise_dataset,
        summarise_videos,
    )

    require_dataset(args.root)
    reader = ShardReader(args.root)
    summary = summarise_dataset(reader)
    videos = summarise_videos(reader) if reader.shard_ids(VIDEOS_TABLE) else None
    scenes = summarise_scenes(reader) if reader.shard_ids(SCENES_TABLE) else None
    scene_skips = scene_failures_by_kind(reader) if scenes is not None else {}
    if args.json:
        payload = asdict(summary) | {"videos": asdict(videos) if videos else None}
        payload["scene_labellers"] = [asdict(s) for s in scenes] if scenes is not None else None
        payload["scene_skips_by_kind"] = scene_skips
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        print(format_summary(summary))
        if videos:
            print(format_video_summary(videos))
        if scenes is not None:
            print(format_scene_summary(scenes, scene_skips))
    return 0


def add_list_clips(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("list-clips", help="list clip ids with their labels")
    parser.add_argument("root")
    for name in ("style", "content", "dataset", "split"):
        parser.add_argument(f"--{name}", help=f"only clips with this {name}")
    parser.add_argument("--limit", type=int, help="at most this many")
    parser.add_argument("--ids-only", action="store_true", help="print only the clip ids")
    parser.set_defaults(handler=run_list_clips)


def run_list_clips(args: argparse.Namespace) -> int:
    from storage.shard_reader import ClipFilter, ShardReader

    require_dataset(args.root)
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


def add_export_bvh(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export-bvh", help="write one clip as a BVH file")
    parser.add_argument("root")
    parser.add_argument("clip_id")
    parser.add_argument("out", type=Path)
    parser.set_defaults(handler=run_export_bvh)


def run_export_bvh(args: argparse.Namespace) -> int:
    from storage.bvh_export import write_clip_bvh

    clip = load_clip(args.root, args.clip_id)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_clip_bvh(clip, args.out)
    print(f"wrote {args.out} ({clip.num_frames} frames at {clip.fps:g} fps)")
    return 0


def add_render(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("render", help="render one clip to a skeleton video (mp4)")
    parser.add_argument("root")
    parser.add_argument("clip_id")
    parser.add_argument("out", type=Path)
    parser.add_argument(
        "--overlay",
        action="store_true",
        help="video clips: draw the pose over the source video beside the 3D clip",
    )
    parser.set_defaults(handler=run_render)


def _render_overlay(root: str, clip, out: Path):  # -> RenderResult
    import pyarrow.compute as pc

    from extract.rendering.overlay import render_overlay
    from extract.video.ingest import ok_videos
    from extract.video.local_media import local_media_file
    from storage.schema import POSES_TABLE
    from storage.shard_reader import ShardReader
    from storage.video_schema import table_to_tracks

    if clip.pose_track_id is None or clip.video_id is None:
        raise UsageError(f"clip {clip.clip_id} is not from a video ({clip.source_kind})")
    reader = ShardReader(root)
    tracks = reader.dataset(POSES_TABLE).to_table(filter=pc.field("track_id") == clip.pose_track_id)
    if tracks.num_rows == 0:
        raise UsageError(f"{root}: pose track {clip.pose_track_id} of clip {clip.clip_id} is gone")
    video = ok_videos(reader).get(clip.video_id)
    if video is None:
        raise UsageError(f"{root}: video {clip.video_id} of clip {clip.clip_id} is not stored")
    with local_media_file(reader.location, video.media_path) as path:
        return render_overlay(clip, next(table_to_tracks(tracks)), path, out, show_progress=True)


def run_render(args: argparse.Namespace) -> int:
    from extract.rendering.render import SkeletonPanel, render_skeleton_video

    clip = load_clip(args.root, args.clip_id)
    if args.overlay:
        result = _render_overlay(args.root, clip, args.out)
        print(f"wrote {result.path} ({result.num_frames} frames, {result.width}x{result.height})")
        return 0
    title = " / ".join(str(x) for x in (clip.dataset, clip.style, clip.content) if x)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = render_skeleton_video(
        [SkeletonPanel(clip.positions, title)], clip.fps, args.out, show_progress=True
    )
    print(f"wrote {result.path} ({result.num_frames} frames, {result.width}x{result.height})")
    return 0


DATASET_COMMANDS = (add_ingest_mocap, add_inspect, add_list_clips, add_export_bvh, add_render)
