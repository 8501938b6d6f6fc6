"""Local access to media files stored under a dataset root on any filesystem.

ffmpeg and MediaPipe need a local path. For a local root that is the file itself; for a remote
root (s3://, gs://, fsspec) the file is copied to a temporary local file for the duration of
the `with` block and removed afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import pyarrow.fs as pafs

from storage.filesystem import Location


@contextmanager
def local_media_file(location: Location, media_path: str | None) -> Iterator[Path]:
    """Yield a local path holding the media file `media_path` (relative to the root)."""
    if not media_path:
        raise FileNotFoundError("the video has no stored media file")
    remote_path = location.join(media_path)
    if isinstance(location.filesystem, pafs.LocalFileSystem):
        path = Path(remote_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: media file missing")
        yield path
        return
    suffix = PurePosixPath(media_path).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix, prefix="stylemotion-media-") as handle:
        with location.filesystem.open_input_stream(remote_path) as stream:
            shutil.copyfileobj(stream, handle)
        handle.flush()
        yield Path(handle.name)
