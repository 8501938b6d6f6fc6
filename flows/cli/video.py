"""Video subcommands of `stylemotion`: crawl, extract, ingest-videos.

`crawl` fetches what a styles file asks for into the videos table and media files; `extract`
runs pose extraction and canonicalisation on every fetched video not yet extracted; and
`ingest-videos` does both for files, folders or URLs given on the command line under one style
label. Each ends with a summary table: videos ok / failed by reason, frames, clips, minutes.
Local paths on the command line (sources, `--out`, the root) are made absolute first, and the
pose model is located (or downloaded) before anything is crawled or extracted, so a missing
model is one line at the start, not a traceback after the crawl.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from flows.cli.common import UsageError
from flows.cli.config_args import add_config_arguments, build_config


def _add_crawl_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="dataset root (path or URI)")
    parser.add_argument("--max-height", type=int, help="highest video resolution (default 720)")
    parser.add_argument("--max-duration", type=float, help="longest video in seconds (600)")
    parser.add_argument("--sleep", type=float, help="seconds between downloads (default 1)")
    parser.add_argument(
        "--allow-file-urls", action="store_true", default=None, help="let yt-dlp open file://"
    )


def _add_extract_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, help="pose worker processes (default 1)")
    parser.add_argument("--videos-per-shard", type=int, help="default 2")
    parser.add_argument("--people", type=int, help="people tracked per shot (default 1)")
    parser.add_argument("--dataset", help="dataset name on the clips (default web-video)")


def add_crawl(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("crawl", help="fetch the videos a styles file asks for")
    parser.add_argument("styles_file", type=Path, help="YAML: style -> queries / urls / local")
    _add_crawl_options(parser)
    add_config_arguments(parser, "CrawlConfig")
    parser.set_defaults(handler=run_crawl)


def add_extract(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("extract", help="poses + clips for every crawled video")
    parser.add_argument("root", help="dataset root (path or URI)")
    _add_extract_options(parser)
    add_config_arguments(parser, "VideoExtractConfig")
    parser.set_defaults(handler=run_extract)


def add_ingest_videos(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ingest-videos", help="crawl + extract files/folders/URLs")
    parser.add_argument("sources", nargs="+", help="video files, folders or URLs")
    parser.add_argument("--style", required=True, help="style label of these videos")
    _add_crawl_options(parser)
    _add_extract_options(parser)
    add_config_arguments(parser, "CrawlExtractConfig (sections crawl:, extract:)")
    parser.set_defaults(handler=run_ingest_videos)


def _crawl_shortcuts(prefix: str = "") -> dict:
    keys = {"out": "out_root", "max_height": "max_height", "max_duration": "max_duration_s"}
    keys |= {"sleep": "sleep_interval_s", "allow_file_urls": "allow_file_urls"}
    return {name: prefix + key for name, key in keys.items()}


def _extract_shortcuts(prefix: str = "") -> dict:
    keys = {"workers": "workers", "videos_per_shard": "videos_per_shard", "dataset": "dataset"}
    return {name: prefix + key for name, key in keys.items()}


def _derived(args: argparse.Namespace, crawl: str | None, extract: str | None) -> dict:
    """What `--sleep` and `--people` stand for beyond their own key, in sections `crawl` and
    `extract` (None: the config has no such section, "": the config is that section)."""
    crawl_values, extract_values = {}, {}
    if crawl is not None and getattr(args, "sleep", None) is not None:
        crawl_values["max_sleep_interval_s"] = max(args.sleep, 3.0 if args.sleep else 0.0)
    if extract is not None and getattr(args, "people", None) is not None:
        pose = {"num_poses": max(1, args.people), "max_people_tracks": args.people}
        extract_values["pose"] = pose
    derived = {}
    for section, values in ((crawl, crawl_values), (extract, extract_values)):
        if values:
            derived |= {section: values} if section else values
    return derived


def _crawl_config(args: argparse.Namespace, file_defaults: dict[str, float | int | None]):
    from extract.crawl.config import CrawlConfig

    base = {key: value for key, value in file_defaults.items() if value is not None}
    derived = _derived(args, "", None)
    return build_config(CrawlConfig, args, _crawl_shortcuts(), derived, base)


def _run_crawl_sources(args: argparse.Namespace, sources, config) -> None:
    from extract.crawl.crawl import crawl

    summary = crawl(sources, config, show_progress=True)
    failed = ", ".join(f"{kind} {count}" for kind, count in sorted(summary.failed.items()))
    print(
        f"crawl: {summary.videos_ok} videos fetched, {summary.videos_skipped} already there, "
        f"{summary.videos_failed} failed ({failed or 'none'}); {summary.shards_written} shards "
        f"written, {summary.shards_skipped} already done"
    )


def _absolute_root(root: str) -> str:
    """A local root as an absolute path (a URI is kept as given)."""
    if "://" in root:
        return root
    return str(_resolved(root))


def _resolved(argument: str, must_exist: bool = False) -> Path:
    """`argument` as an absolute local path; one that cannot be resolved is a UsageError."""
    try:
        path = Path(argument).expanduser().resolve()
        exists = path.exists()
    except (OSError, RuntimeError) as error:  # a symlink loop is a RuntimeError before 3.13
        reason = getattr(error, "strerror", None) or "a symlink loop"
        raise UsageError(f"{argument}: not a usable path ({reason})") from error
    if must_exist and not exists:
        raise UsageError(f"{argument}: neither an existing file/folder nor a URL")
    return path


def _require_pose_model() -> None:
    """Locate the pose model (or download it once) before any work; one line if it cannot."""
    from extract.video.pose_model import PoseModelError, resolve_pose_model

    try:
        resolve_pose_model()
    except PoseModelError as error:
        raise UsageError(str(error)) from error


def run_crawl(args: argparse.Namespace) -> int:
    from extract.crawl.sources import SourcesError, read_styles_file

    try:
        styles = read_styles_file(args.styles_file)
    except (SourcesError, OSError) as error:
        raise UsageError(str(error)) from error
    args.out = _absolute_root(args.out)
    defaults = {"max_height": styles.max_height, "max_duration_s": styles.max_duration_s}
    _run_crawl_sources(args, styles.sources, _crawl_config(args, defaults))
    print_video_summary(args.out)
    return 0


def _extract(config) -> None:  # config: VideoExtractConfig
    from extract.video.ingest import extract_videos
    from extract.video.pose_model import PoseModelError

    try:
        summary = extract_videos(config, show_progress=True)
    except PoseModelError as error:  # e.g. a model file MediaPipe cannot load
        raise UsageError(str(error)) from error
    print(
        f"extract: {summary.videos_pending} videos, {summary.tracks} tracks "
        f"({summary.pose_frames} frames), {summary.clips} clips, "
        f"{summary.clip_shards_superseded} outdated clip shards replaced"
    )


def _has_videos_without_poses(root: str) -> bool:
    from extract.video.ingest import ok_videos, videos_with_poses
    from storage.shard_reader import ShardReader

    reader = ShardReader(root)
    return bool(set(ok_videos(reader)) - videos_with_poses(reader))


def extract_config(args: argparse.Namespace):  # -> VideoExtractConfig
    from extract.video.ingest import VideoExtractConfig

    shortcuts = {"root": "root", **_extract_shortcuts()}
    return build_config(VideoExtractConfig, args, shortcuts, _derived(args, None, ""))


def run_extract(args: argparse.Namespace) -> int:
    from flows.cli.common import require_dataset

    args.root = _absolute_root(args.root)
    config = extract_config(args)
    require_dataset(config.root)
    if _has_videos_without_poses(config.root):  # deriving clips alone needs no model
        _require_pose_model()
    _extract(config)
    print_video_summary(config.root)
    return 0


def _sources_from_arguments(arguments: list[str], style: str) -> list:
    from extract.crawl.sources import LocalSource, UrlSource

    sources = []
    for argument in arguments:
        if "://" in argument:
            sources.append(UrlSource(style, argument))
            continue
        sources.append(LocalSource(style, _resolved(argument, must_exist=True)))
    return sources


def ingest_videos_config(args: argparse.Namespace):  # -> CrawlExtractConfig
    """Crawl and extract settings of `ingest-videos`: `--out` is both sections' root."""
    from flows.crawl_params import CrawlExtractConfig

    shortcuts = {"sources": "inputs", "style": "style"}
    shortcuts |= _crawl_shortcuts("crawl.") | _extract_shortcuts("extract.")
    derived = _derived(args, "crawl", "extract")
    derived.setdefault("extract", {})["root"] = args.out  # "out" is crawl.out_root's shortcut
    return build_config(CrawlExtractConfig, args, shortcuts, derived)


def run_ingest_videos(args: argparse.Namespace) -> int:
    args.out = _absolute_root(args.out)
    config = ingest_videos_config(args)
    if not config.style:
        raise UsageError("ingest-videos: give the videos' style (--style)")
    sources = _sources_from_arguments(list(config.inputs), config.style)
    _require_pose_model()
    _run_crawl_sources(args, sources, config.crawl)
    _extract(config.extract)
    print_video_summary(config.extract.root)
    return 0


def print_video_summary(root: str) -> None:
    """The table users read after a video job: videos by status/reason, frames, clips, minutes."""
    from storage.shard_reader import ShardReader
    from storage.summary import format_video_summary, summarise_videos

    print(format_video_summary(summarise_videos(ShardReader(root))))


VIDEO_COMMANDS = (add_crawl, add_extract, add_ingest_videos)
