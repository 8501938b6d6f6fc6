"""Keeping MediaPipe's native log lines (glog/absl, TFLite) off the user's console.

Owns `native_stderr_to_file`: MediaPipe's C++ side writes its start-up notes ("Created
TensorFlow Lite XNNPACK delegate", "Feedback manager requires a model with a single
signature", ...) straight to file descriptor 2, past Python's logging and past `GLOG_minloglevel`
(measured: setting it changes nothing with mediapipe 1.2). Nothing in them is actionable for a
user, so while a landmarker is created and runs its first frame, descriptor 2 points at a log
file in the temporary directory (`NATIVE_LOG`); the lines are kept there, not lost, and the
console keeps the progress bars and summaries. Python code in that window must not need the
console: only the native calls run inside it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NATIVE_LOG = Path(tempfile.gettempdir()) / "stylemotion-mediapipe-native.log"


@contextmanager
def native_stderr_to_file(path: Path = NATIVE_LOG) -> Iterator[Path]:
    """Descriptor 2 appends to `path` inside the block, and is restored after it."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 2)
            try:
                yield path
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)
