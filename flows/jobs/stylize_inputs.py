"""Where the stylize job's motions come from: clip shards, BVH files or folders, or videos.

Owns `resolve_motion_input(argument, work_root, style)`: a dataset root (clip shards) is read as
it is; a folder of BVH (every file under it) or one BVH file (that file only) goes through
`extract.mocap.ingest`; video files, folders or URLs go through the video-ingest stage (crawl ->
MediaPipe -> clips) into a work root, so a style nobody trained on can come from a handful of
new videos. Each kind of input that yields no clip fails with `StylizeInputError` naming the
input and the reason.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from storage.errors import UserInputError
from storage.records import MotionClip
from storage.shard_reader import ClipFilter, ShardReader

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}


class StylizeInputError(UserInputError, ValueError):
    """A source or style reference gives no usable clip; the message names it."""


@dataclass(frozen=True)
class ClipQuery:
    """Which clips of a dataset root to take (None: any)."""

    split: str | None = None
    style: str | None = None
    content: str | None = None
    limit: int | None = None


def is_dataset_root(path: Path) -> bool:
    return (path / "clips").is_dir() and (path / "_done").is_dir()


def _has_suffix(path: Path, suffixes: set[str]) -> bool:
    if path.is_file():
        return path.suffix.lower() in suffixes
    return path.is_dir() and any(p.suffix.lower() in suffixes for p in path.rglob("*"))


def clips_of_root(root: Path | str, query: ClipQuery = ClipQuery()) -> list[MotionClip]:
    where = ClipFilter(split=query.split, style=query.style, content=query.content)
    clips = []
    for clip in ShardReader(str(root)).iter_clips(where):
        clips.append(clip)
        if query.limit is not None and len(clips) >= query.limit:
            break
    return clips


def _ingest_bvh(path: Path, work_root: Path) -> Path:
    """A folder means every BVH under it; a file means that file alone (its folder's label
    files still apply), so its neighbours never become references or sources."""
    from extract.mocap.ingest import MocapIngestConfig, ingest_mocap

    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    out = work_root / f"bvh-{path.stem}-{digest}"  # one root per input: never ingested twice
    folder, only = (path, ()) if path.is_dir() else (path.parent, (path.name,))
    ingest_mocap(
        MocapIngestConfig(
            src_dir=str(folder), out_root=str(out), dataset=path.stem, only_files=only
        )
    )
    return out


def _ingest_videos(arguments: Sequence[str], work_root: Path, style: str) -> Path:
    from extract.crawl.config import CrawlConfig
    from extract.crawl.crawl import crawl
    from extract.crawl.sources import LocalSource, UrlSource
    from extract.video.ingest import VideoExtractConfig, extract_videos

    out = work_root / f"videos-{style}"
    sources = [
        UrlSource(style, a) if "://" in a else LocalSource(style, Path(a)) for a in arguments
    ]
    crawl(sources, CrawlConfig(out_root=str(out), sleep_interval_s=0.0, max_sleep_interval_s=0.0))
    extract_videos(VideoExtractConfig(root=str(out), dataset=f"stylize-{style}"))
    return out


def resolve_motion_input(
    arguments: Sequence[str], work_root: Path, name: str, query: ClipQuery = ClipQuery()
) -> list[MotionClip]:
    """Clips of one input group: a dataset root, BVH files/folders, or videos (files or URLs)."""
    clips: list[MotionClip] = []
    videos: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir() and is_dataset_root(path):  # first: a root may hold crawled media
            clips += clips_of_root(path, query)
        elif "://" in argument or _has_suffix(path, VIDEO_SUFFIXES):
            videos.append(argument)
        elif _has_suffix(path, {".bvh"}):
            clips += clips_of_root(_ingest_bvh(path, work_root))
        else:
            raise StylizeInputError(
                f"{argument}: not a dataset root, BVH file/folder, video file/folder or URL"
            )
    if videos:
        clips += clips_of_root(_ingest_videos(videos, work_root, name))
    if not clips:
        raise StylizeInputError(f"{name}: {list(arguments)} gave no clip (see the failures table)")
    logger.info("%s: %d clips from %s", name, len(clips), list(arguments))
    return clips
