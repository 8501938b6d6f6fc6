"""The crawl's media files: what ffprobe says about one, its hash, and placing it under the root.

Owns the file side of a `VideoRecord` (duration, fps, size, sha256, `media/<video_id>.<ext>`).
Files are always put under the dataset root by a temporary name and a rename, through the
root's `Location.filesystem`, so a reader never sees half a file and a non-local root
(any pyarrow/fsspec URI) works the same way as a local folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from extract.crawl.errors import CrawlError, CrawlErrorKind
from extract.video.probe import VideoError, VideoLimits
from extract.video.probe import probe_video as probe_media
from storage.filesystem import Location
from storage.shard_writer import TEMP_PREFIX

logger = logging.getLogger(__name__)

MEDIA_DIR = "media"


@dataclass(frozen=True)
class VideoProbe:
    """What the crawl records of a fetched file's first real video stream."""

    duration_s: float | None
    fps: float | None
    width: int
    height: int


# The crawl only checks that a file is a video; whether it is long or large enough for pose
# extraction is decided later by the pose stage's own limits.
_CRAWL_LIMITS = VideoLimits(min_frames=1, min_side=1, max_aspect=float("inf"))
_CRAWL_KINDS = {"Corrupt": CrawlErrorKind.CORRUPT, "NotAVideo": CrawlErrorKind.NOT_A_VIDEO}


def probe_video(path: Path) -> VideoProbe:
    """Duration, fps and size of the first video stream (`extract.video.probe`).

    A file that is no video at all is NotAVideo; a video container cut short is Corrupt.
    """
    try:
        info = probe_media(path, _CRAWL_LIMITS)
    except VideoError as error:
        kind = _CRAWL_KINDS.get(error.kind, CrawlErrorKind.NOT_A_VIDEO)
        raise CrawlError(kind, f"ffprobe cannot read it: {error.reason}") from error
    return VideoProbe(
        duration_s=info.duration_s or None,
        fps=info.fps or None,
        width=info.width,
        height=info.height,
    )


def sha256_file(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def media_path_for(video_id: str, file_path: Path) -> str:
    """`media/<video_id>.<ext>`, relative to the dataset root."""
    extension = file_path.suffix.lstrip(".").lower() or "mp4"
    return f"{MEDIA_DIR}/{video_id}.{extension}"


def _place_locally(source: Path, temporary: Path, keep_source: bool) -> None:
    temporary.parent.mkdir(parents=True, exist_ok=True)
    if not keep_source:
        shutil.move(source, temporary)
        return
    try:
        os.link(source, temporary)
    except OSError:  # another device, or a filesystem (or policy) that forbids hardlinks
        shutil.copyfile(source, temporary)


def store_media(location: Location, source: Path, relative: str, keep_source: bool) -> None:
    """Put the local file `source` at `relative` under the root (temporary name, then rename).

    `keep_source`: hardlink (or copy) a user's file; otherwise move a staged download in.
    """
    directory, name = relative.rsplit("/", 1)
    temporary = location.join(directory, f"{TEMP_PREFIX}{name}-{uuid.uuid4().hex[:8]}")
    destination = location.join(*relative.split("/"))
    if isinstance(location.filesystem, pafs.LocalFileSystem):
        _place_locally(source, Path(temporary), keep_source)
        os.replace(temporary, destination)
    else:
        location.filesystem.create_dir(location.join(directory), recursive=True)
        pafs.copy_files(
            str(source),
            temporary,
            source_filesystem=pafs.LocalFileSystem(),
            destination_filesystem=location.filesystem,
        )
        location.filesystem.move(temporary, destination)
        if not keep_source:
            source.unlink()
    logger.debug("stored %s as %s", source, destination)
