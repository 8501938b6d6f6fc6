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
import re
import shutil
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import ffmpeg
import pyarrow.fs as pafs

from extract.crawl_errors import CrawlError, CrawlErrorKind
from storage.filesystem import Location
from storage.shard_writer import TEMP_PREFIX

logger = logging.getLogger(__name__)

MEDIA_DIR = "media"
_DEMUXER_PREFIX = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\]\s*")


@dataclass(frozen=True)
class VideoProbe:
    """What ffprobe reads from the first real video stream of a file."""

    duration_s: float | None
    fps: float | None
    width: int
    height: int


def _rate(text: str | None) -> float | None:
    """ffprobe's `30000/1001` as a float; None for `0/0` or nonsense."""
    try:
        value = float(Fraction(text)) if text else 0.0
    except (ValueError, ZeroDivisionError):
        return None
    return value or None


def _ffprobe_reason(stderr: bytes, path: Path) -> str:
    """ffprobe's complaints without demuxer addresses or the (staging) file name."""
    reasons: list[str] = []
    for line in stderr.decode("utf-8", "replace").splitlines():
        line = _DEMUXER_PREFIX.sub("", line.strip()).removeprefix(f"{path}: ").strip()
        if line and line not in reasons:
            reasons.append(line)
    return "; ".join(reasons) or "unknown error"


def probe_video(path: Path) -> VideoProbe:
    """Duration, fps and size of the first video stream; CrawlError(NotAVideo) when none.

    Cover art (an `attached_pic` stream of an audio file) does not count as video.
    """
    try:
        probe = ffmpeg.probe(str(path), v="error")
    except ffmpeg.Error as error:
        reason = _ffprobe_reason(error.stderr or b"", path)
        raise CrawlError(CrawlErrorKind.NOT_A_VIDEO, f"ffprobe cannot read it: {reason}") from error
    streams = [
        stream
        for stream in probe.get("streams", [])
        if stream.get("codec_type") == "video"
        and not stream.get("disposition", {}).get("attached_pic")
        and stream.get("width")
    ]
    if not streams:
        raise CrawlError(CrawlErrorKind.NOT_A_VIDEO, "ffprobe finds no video stream")
    video = streams[0]
    duration = probe.get("format", {}).get("duration") or video.get("duration")
    return VideoProbe(
        duration_s=float(duration) if duration else None,
        fps=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        width=int(video["width"]),
        height=int(video["height"]),
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
