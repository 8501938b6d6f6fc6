"""Normalised decoding: one ffmpeg process streaming RGB frames at a fixed rate and capped size.

Owns the "normalised video" that pose frame indices refer to: `NormaliseConfig` (target fps,
longest side, duration cap, probe limits), `plan_normalisation` (what a given video becomes:
size with even sides and the aspect kept, frame rate, frame cap) and `open_video_frames`, a
context manager yielding `(H, W, 3)` uint8 RGB frames read from ffmpeg's rawvideo pipe one at a
time, so memory stays flat however long the video is. Frame `i` of the normalised video shows
time `i / fps` s. A decode failure midway (`-xerror`: damaged or truncated data) raises
`CorruptVideoError` (kind `Corrupt`) with ffmpeg's stderr tail, after the good frames.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import ffmpeg
import numpy as np

try:
    import fcntl
except ImportError:  # not POSIX: the pipe keeps its default size
    fcntl = None  # type: ignore[assignment]

from extract.video.probe import CorruptVideoError, VideoInfo, VideoLimits, probe_video

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NormaliseConfig:
    """How every video is decoded before pose extraction.

    `upsample` False keeps a source slower than `fps` at its own rate (a 10 fps video stays at
    10 fps) instead of repeating frames, which would only cost pose-model time; a source within
    5 % of `fps` (tennis.mp4 averages 29.83 fps) is resampled to exactly `fps`.
    """

    fps: float = 30.0
    upsample: bool = False
    max_long_side: int = 1280
    max_duration_s: float = 600.0
    limits: VideoLimits = field(default_factory=VideoLimits)

    def __post_init__(self) -> None:
        if self.fps <= 0 or self.max_long_side < 2 or self.max_duration_s <= 0:
            raise ValueError(f"invalid NormaliseConfig {self}")


@dataclass(frozen=True)
class NormalisationPlan:
    """What one video becomes: output size and rate, how many frames at most, whether capped."""

    info: VideoInfo
    width: int
    height: int
    frame_rate: Fraction
    max_frames: int
    capped: bool

    @property
    def fps(self) -> float:
        return float(self.frame_rate)

    @property
    def expected_frames(self) -> int:
        duration_s = min(self.info.duration_s, self.max_frames / self.fps)
        return min(self.max_frames, round(duration_s * self.fps))


def plan_normalisation(info: VideoInfo, config: NormaliseConfig) -> NormalisationPlan:
    """Output size (longer side <= max_long_side, even sides, aspect kept), rate and frame cap."""
    scale = min(1.0, config.max_long_side / max(info.width, info.height))
    # Even sides: a normalised video can be re-encoded as yuv420p (previews, overlays).
    width = max(2, round(info.width * scale / 2) * 2)
    height = max(2, round(info.height * scale / 2) * 2)
    target = Fraction(config.fps).limit_denominator(1001)
    slower = info.frame_rate < target * Fraction(95, 100)
    frame_rate = info.frame_rate if slower and not config.upsample else target
    return NormalisationPlan(
        info=info,
        width=width,
        height=height,
        frame_rate=frame_rate,
        max_frames=max(1, int(config.max_duration_s * frame_rate)),
        capped=info.duration_s > config.max_duration_s,
    )


class VideoFrames:
    """Iterator over the normalised frames of one video; use through `open_video_frames`.

    A thread reads up to `read_ahead` frames ahead of the consumer, so ffmpeg decodes the next
    frames while the caller works on this one (on a pipe alone the two would take turns).
    `frames_read` counts the frames yielded so far. Iterating to the end checks ffmpeg's exit
    status; `close` (or leaving the `with` block) stops ffmpeg early without an error.
    """

    def __init__(self, plan: NormalisationPlan, read_ahead: int = 4) -> None:
        self.plan = plan
        self.frames_read = 0
        self._stderr_tail: deque[str] = deque(maxlen=20)
        self._frames: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=read_ahead)
        self._stopping = threading.Event()
        self._process = _start_decoder(plan)
        _enlarge_pipe(self._process.stdout.fileno(), plan.width * plan.height * 3)
        self._threads = [
            threading.Thread(target=self._drain_stderr, daemon=True),
            threading.Thread(target=self._read_frames, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _drain_stderr(self) -> None:
        with self._process.stderr:  # the reader owns the pipe and closes it at EOF
            for line in self._process.stderr:
                self._stderr_tail.append(line.decode("utf-8", errors="replace").rstrip())

    def _read_frames(self) -> None:
        frame: np.ndarray | None = np.empty(0)
        while frame is not None and not self._stopping.is_set():
            frame = self._read_frame()
            while not self._stopping.is_set():  # a stopped consumer takes nothing more
                with contextlib.suppress(queue.Full):
                    self._frames.put(frame, timeout=0.1)
                    break

    def _read_frame(self) -> np.ndarray | None:
        """The next (H, W, 3) frame, read straight into its array; None at the end."""
        frame = np.empty((self.plan.height, self.plan.width, 3), np.uint8)
        view = memoryview(frame.reshape(-1))  # (H * W * 3,) bytes
        filled = 0
        while filled < len(view):
            count = self._process.stdout.readinto(view[filled:])
            if not count:
                return None  # end of stream (a partial last frame means ffmpeg stopped)
            filled += count
        return frame

    def __iter__(self) -> Iterator[np.ndarray]:
        while (frame := self._frames.get()) is not None:
            self.frames_read += 1
            yield frame
        self._finish()

    def _finish(self) -> None:
        code = self._process.wait()
        for thread in self._threads:
            thread.join(timeout=5)
        path = self.plan.info.path
        tail = "\n".join(self._stderr_tail)
        if code != 0:
            reason = f"decoding failed after {self.frames_read} frames (ffmpeg exit code {code})"
            raise CorruptVideoError(path, reason, tail)
        if self.frames_read == 0:
            raise CorruptVideoError(path, "ffmpeg decoded no frames", tail)
        logger.debug("%s: decoded %d frames", path, self.frames_read)

    def close(self) -> None:
        """Stop ffmpeg and the threads; the read thread ends at the killed pipe's EOF."""
        self._stopping.set()
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for thread in self._threads:
            thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._process.stdout.close()


def _enlarge_pipe(descriptor: int, frame_bytes: int) -> None:
    """Grow the pipe towards one frame (Linux allows 1 MiB unprivileged): fewer wake-ups."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or over the system limit
        fcntl.fcntl(descriptor, fcntl.F_SETPIPE_SZ, min(frame_bytes, 1 << 20))


def _start_decoder(plan: NormalisationPlan) -> subprocess.Popen:
    stream = (
        ffmpeg.input(plan.info.path)
        .video.filter("fps", fps=str(plan.frame_rate))
        .filter("scale", plan.width, plan.height)
        .filter("setsar", "1")
        .output("pipe:", format="rawvideo", pix_fmt="rgb24", vframes=plan.max_frames)
        .global_args("-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-xerror")
    )
    return stream.run_async(pipe_stdout=True, pipe_stderr=True)


@contextlib.contextmanager
def open_video_frames(
    path: str | Path, config: NormaliseConfig | None = None
) -> Iterator[VideoFrames]:
    """Probe `path` (typed `VideoError`s) and stream its normalised frames.

    with open_video_frames(path, config) as frames:
        for frame in frames:  # (H, W, 3) uint8 RGB, H/W = frames.plan.height/width
            ...
    """
    config = config or NormaliseConfig()
    info = probe_video(path, config.limits)
    plan = plan_normalisation(info, config)
    if plan.capped:
        logger.warning(
            "%s is %.1f s long: only the first %.1f s are decoded (max_duration_s)",
            info.path,
            info.duration_s,
            config.max_duration_s,
        )
    frames = VideoFrames(plan)
    try:
        yield frames
    finally:
        frames.close()
