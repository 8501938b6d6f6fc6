"""Streaming H.264 video writer: raw frames piped into an ffmpeg/libx264 process.

Owns everything that talks to ffmpeg when writing video: finding the binary (`require_ffmpeg`),
the `RenderError` raised when it is missing or fails, and `FfmpegVideoWriter`, which takes raw
`(H, W, 3)` uint8 BGR frames one at a time on the process's stdin and encodes them to an mp4
(yuv420p, `+faststart`), so memory stays flat however long the video is. It knows nothing about
what the frames show; the skeleton renderer is one user.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
from collections import deque
from pathlib import Path

import ffmpeg
import numpy as np

X264_PRESET = "veryfast"  # as small as "medium" on flat skeleton frames, about twice as fast


class RenderError(RuntimeError):
    """ffmpeg is missing or failed while encoding a render."""


class FfmpegVideoWriter:
    """An ffmpeg process encoding raw BGR frames from its stdin to an H.264 mp4.

    A thread drains stderr into a bounded tail, so a chatty ffmpeg can never block on a full
    pipe and a failure can be reported with ffmpeg's own last words. `size` is (width, height);
    call `write` once per frame, then `close` to finish, or `abort` to kill ffmpeg.
    """

    def __init__(
        self,
        path: Path,
        size: tuple[int, int],
        fps: float,
        crf: int,
        *,
        preset: str = X264_PRESET,
    ) -> None:
        width, height = size
        self.path = path
        stream = (
            ffmpeg.input(
                "pipe:", format="rawvideo", pix_fmt="bgr24", s=f"{width}x{height}", framerate=fps
            )
            .output(
                str(path),
                vcodec="libx264",
                pix_fmt="yuv420p",
                crf=crf,
                preset=preset,
                movflags="+faststart",
            )
            .global_args("-hide_banner", "-loglevel", "error", "-nostats")
            .overwrite_output()
        )
        self._process: subprocess.Popen = stream.run_async(pipe_stdin=True, pipe_stderr=True)
        self._stderr_tail: deque[str] = deque(maxlen=40)
        self._reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self._reader.start()

    def _drain_stderr(self) -> None:
        with self._process.stderr:  # the reader owns the pipe and closes it at EOF
            for line in self._process.stderr:
                self._stderr_tail.append(line.decode("utf-8", errors="replace").rstrip())

    def _failure(self, what: str) -> RenderError:
        self._reader.join(timeout=5)
        tail = "\n".join(self._stderr_tail) or "(ffmpeg printed nothing)"
        return RenderError(f"ffmpeg {what} while writing {self.path}:\n{tail}")

    def write(self, frame: np.ndarray) -> None:
        try:
            self._process.stdin.write(frame.data)
        except BrokenPipeError:
            self._process.wait()
            raise self._failure(f"exited early with code {self._process.returncode}") from None

    def close(self) -> None:
        """Finish the stream; raises `RenderError` if ffmpeg did not exit cleanly."""
        self._close_stdin()
        code = self._process.wait()
        if code != 0:
            raise self._failure(f"exited with code {code}")
        self._reader.join(timeout=5)

    def abort(self) -> None:
        self._process.kill()
        self._close_stdin()
        self._process.wait()

    def _close_stdin(self) -> None:
        with contextlib.suppress(BrokenPipeError):  # ffmpeg already gone: its exit code tells
            self._process.stdin.close()


def require_ffmpeg() -> str:
    """Path of the ffmpeg binary; raises `RenderError` naming it when it is not on PATH."""
    binary = shutil.which("ffmpeg")
    if binary is None:
        raise RenderError(
            "ffmpeg was not found on PATH; install ffmpeg (e.g. apt-get install ffmpeg)"
        )
    return binary
