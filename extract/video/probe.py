"""What a video file holds, and the typed reasons a file is not a usable video.

Owns `probe_video` (one `ffprobe` call through ffmpeg-python, read into a `VideoInfo`: display
size after rotation and pixel aspect, frame rate, duration, a frame-count estimate, codec, audio)
and the `VideoError` family. Each subclass carries a stable kind name (`error.kind`, stored as
`error_kind` of failure records): `Unreadable`, `NotAVideo`, `Corrupt`, `TooShort`,
`ExtremeAspect`, `TooSmall` (classes `UnreadableError`, `NotAVideoError`, ...). Every message
starts with the file and says why. `VideoLimits` holds the thresholds.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import ffmpeg

logger = logging.getLogger(__name__)

# Leading bytes of containers ffmpeg reads. A file that starts like one but does not probe is a
# damaged video (Corrupt); anything else that does not probe is not a video at all (NotAVideo).
# ffprobe itself cannot tell: it picks the demuxer from the extension, so a text file named
# x.mp4 and an mp4 cut before its index both fail with "moov atom not found".
_ISO_BOX_TYPES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")
_CONTAINER_MAGIC = (
    b"RIFF",  # AVI (and WAV, which probes fine and then has no video)
    b"\x1a\x45\xdf\xa3",  # Matroska / WebM
    b"FLV",
    b"OggS",
    b"\x00\x00\x01\xba",  # MPEG program stream
    b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",  # ASF / WMV
)


class VideoError(ValueError):
    """A file that cannot be used as a video; `kind` is the subclass's stable kind name.

    `stderr_tail` holds ffmpeg's or ffprobe's last words where they explain the failure.
    """

    kind: ClassVar[str] = "VideoError"

    def __init__(self, path: str | Path, reason: str, stderr_tail: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.stderr_tail = stderr_tail
        message = f"{self.path}: {reason}"
        if stderr_tail:
            message += f"\nffmpeg said:\n{stderr_tail}"
        super().__init__(message)

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        # Keeps the error intact across process pools (the default would pass only the message).
        return type(self), (self.path, self.reason, self.stderr_tail)


class UnreadableError(VideoError):
    """The path is missing, a directory, or cannot be read."""

    kind = "Unreadable"


class NotAVideoError(VideoError):
    """The file is readable but holds no video stream (audio only, text, an image format...)."""

    kind = "NotAVideo"


class CorruptVideoError(VideoError):
    """The file looks like a video container but ffprobe or the decoder fails on it."""

    kind = "Corrupt"


class TooShortError(VideoError):
    """Fewer frames than `VideoLimits.min_frames`."""

    kind = "TooShort"


class ExtremeAspectError(VideoError):
    """Longer side over shorter side above `VideoLimits.max_aspect`."""

    kind = "ExtremeAspect"


class TooSmallError(VideoError):
    """Shorter side below `VideoLimits.min_side` pixels."""

    kind = "TooSmall"


@dataclass(frozen=True)
class VideoLimits:
    """What a video must satisfy to be worth decoding."""

    min_frames: int = 5
    min_side: int = 64
    max_aspect: float = 4.0


@dataclass(frozen=True)
class VideoInfo:
    """The probed facts of one video; width/height are the displayed size (rotation applied)."""

    path: str
    width: int
    height: int
    frame_rate: Fraction
    duration_s: float
    num_frames: int  # the container's count where it has one, else duration x frame rate
    codec: str
    has_audio: bool
    rotation: int
    format_name: str
    size_bytes: int

    @property
    def fps(self) -> float:
        return float(self.frame_rate)


def probe_video(path: str | Path, limits: VideoLimits | None = None) -> VideoInfo:
    """Probe `path` and check it against `limits`; raises a `VideoError` subclass when unusable."""
    limits = limits or VideoLimits()
    path = Path(path)
    head = _read_head(path)
    probe = _run_ffprobe(path, head)
    info = _video_info(path, probe)
    _check_limits(info, limits)
    logger.debug(
        "%s: %dx%d %.3f fps %.2f s", path, info.width, info.height, info.fps, info.duration_s
    )
    return info


def _read_head(path: Path) -> bytes:
    if not path.exists():
        raise UnreadableError(path, "no such file")
    if path.is_dir():
        raise UnreadableError(path, "is a directory, not a video file")
    if not os.access(path, os.R_OK):
        raise UnreadableError(path, "permission denied")
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError as error:
        raise UnreadableError(path, f"cannot be read ({error.strerror or error})") from error
    if not head:
        raise CorruptVideoError(path, "the file is empty (0 bytes)")
    return head


def looks_like_container(head: bytes) -> bool:
    """Whether the first bytes of a file are those of a video container ffmpeg reads."""
    if head[4:8] in _ISO_BOX_TYPES:
        return True
    if len(head) > 188 and head[0] == head[188] == 0x47:  # MPEG-TS: a sync byte every 188
        return True
    return any(head.startswith(magic) for magic in _CONTAINER_MAGIC)


def _run_ffprobe(path: Path, head: bytes) -> dict[str, Any]:
    try:
        return ffmpeg.probe(str(path), v="error")
    except ffmpeg.Error as error:
        tail = _tail(error.stderr)
        if looks_like_container(head):
            raise CorruptVideoError(
                path, "ffprobe cannot read this video container", tail
            ) from None
        raise NotAVideoError(
            path, "not a video file (ffprobe recognises no media in it)", tail
        ) from None


def _tail(stderr: bytes | None, lines: int = 12) -> str:
    text = (stderr or b"").decode("utf-8", errors="replace").strip()
    return "\n".join(text.splitlines()[-lines:])


def _video_stream(path: Path, probe: dict[str, Any]) -> dict[str, Any]:
    streams = probe.get("streams", [])
    videos = [
        stream
        for stream in streams
        if stream.get("codec_type") == "video"
        and not stream.get("disposition", {}).get("attached_pic")  # cover art of audio files
    ]
    if not videos:
        has_audio = any(stream.get("codec_type") == "audio" for stream in streams)
        what = "audio only" if has_audio else "no audio either"
        raise NotAVideoError(path, f"no video stream ({what})")
    return videos[0]


def _video_info(path: Path, probe: dict[str, Any]) -> VideoInfo:
    stream = _video_stream(path, probe)
    container = probe.get("format", {})
    frame_rate = _frame_rate(stream)
    duration_s = _first_positive(stream.get("duration"), container.get("duration"))
    nb_frames = int(_first_positive(stream.get("nb_frames")) or 0)
    if frame_rate is None and nb_frames and duration_s:
        frame_rate = Fraction(nb_frames / duration_s).limit_denominator(1001)
    if frame_rate is None:
        raise CorruptVideoError(path, "the video stream states no frame rate")
    if duration_s is None:
        if not nb_frames:
            raise CorruptVideoError(
                path, "the video stream states neither a duration nor a frame count"
            )
        duration_s = nb_frames / float(frame_rate)
    width, height, rotation = _display_size(stream)
    return VideoInfo(
        path=str(path),
        width=width,
        height=height,
        frame_rate=frame_rate,
        duration_s=duration_s,
        num_frames=nb_frames or round(duration_s * float(frame_rate)),
        codec=str(stream.get("codec_name", "unknown")),
        has_audio=any(s.get("codec_type") == "audio" for s in probe.get("streams", [])),
        rotation=rotation,
        format_name=str(container.get("format_name", "unknown")),
        size_bytes=int(container.get("size") or path.stat().st_size),
    )


def _frame_rate(stream: dict[str, Any]) -> Fraction | None:
    """avg_frame_rate, else r_frame_rate; ffprobe writes "0/0" when it does not know."""
    for key in ("avg_frame_rate", "r_frame_rate"):
        numerator, _, denominator = str(stream.get(key, "0/0")).partition("/")
        try:
            rate = Fraction(int(numerator), int(denominator or 1))
        except (ValueError, ZeroDivisionError):
            continue
        if 0 < rate <= 1000:
            return rate
    return None


def _first_positive(*values: object) -> float | None:
    for value in values:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if number > 0:
            return number
    return None


def _display_size(stream: dict[str, Any]) -> tuple[int, int, int]:
    """(width, height, rotation): non-square pixels widened, quarter turns swapped."""
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    numerator, _, denominator = str(stream.get("sample_aspect_ratio", "1:1")).partition(":")
    if numerator.isdigit() and denominator.isdigit() and int(numerator) and int(denominator):
        width = round(width * int(numerator) / int(denominator))
    rotation = _rotation(stream)
    if rotation % 180 == 90:
        width, height = height, width
    return width, height, rotation


def _rotation(stream: dict[str, Any]) -> int:
    candidates = [side.get("rotation") for side in stream.get("side_data_list", [])]
    candidates.append(stream.get("tags", {}).get("rotate"))
    for value in candidates:
        if value is not None:
            try:
                return round(float(value)) % 360
            except (TypeError, ValueError):
                continue
    return 0


def _check_limits(info: VideoInfo, limits: VideoLimits) -> None:
    longer, shorter = max(info.width, info.height), min(info.width, info.height)
    size = f"{info.width}x{info.height}"
    if shorter <= 0:
        raise CorruptVideoError(info.path, f"the video stream has no picture size ({size})")
    if longer / shorter > limits.max_aspect:
        raise ExtremeAspectError(
            info.path,
            f"aspect ratio {longer / shorter:.1f}:1 ({size}) exceeds {limits.max_aspect:g}:1",
        )
    if shorter < limits.min_side:
        raise TooSmallError(info.path, f"{size} is below the minimum side of {limits.min_side} px")
    if info.num_frames < limits.min_frames:
        raise TooShortError(
            info.path,
            f"{info.num_frames} frame(s) ({info.duration_s:.3f} s), "
            f"fewer than the minimum of {limits.min_frames}",
        )
