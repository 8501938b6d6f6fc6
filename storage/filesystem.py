"""Where a dataset lives: a local directory or any pyarrow/fsspec filesystem URI.

`open_location("ROOT")` returns the pyarrow filesystem and the base path for a local path, a
`file://` URI, or a URI pyarrow knows natively (`s3://bucket/prefix`, `gs://...`, `hdfs://...`;
S3 and MinIO credentials come from the usual AWS environment variables, MinIO's endpoint from
`AWS_ENDPOINT_URL`). Any other scheme that fsspec knows (`memory://`, `abfs://`, ...) is wrapped
with `pyarrow.fs.FSSpecHandler`. All shard I/O goes through the returned filesystem, so the
shard code never branches on where data lives.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import fsspec
import pyarrow.fs as pafs

from storage.errors import UserInputError


@dataclass(frozen=True)
class Location:
    """A filesystem plus a base path inside it; `join` builds paths below the base."""

    filesystem: pafs.FileSystem
    base: str
    uri: str

    def join(self, *parts: str) -> str:
        return "/".join([self.base.rstrip("/"), *parts])

    def exists(self, path: str) -> bool:
        return self.filesystem.get_file_info(path).type != pafs.FileType.NotFound

    def list_files(self, directory: str, suffix: str = "") -> list[str]:
        """Sorted paths of the plain files directly in `directory` ending with `suffix`."""
        selector = pafs.FileSelector(directory, allow_not_found=True)
        infos = self.filesystem.get_file_info(selector)
        return sorted(
            info.path
            for info in infos
            if info.type == pafs.FileType.File and info.base_name.endswith(suffix)
        )

    def read_json(self, path: str) -> dict:
        with self.filesystem.open_input_stream(path) as stream:
            return json.loads(stream.read().decode("utf-8"))

    def write_bytes(self, path: str, data: bytes) -> None:
        with self.filesystem.open_output_stream(path) as stream:
            stream.write(data)

    def file_size(self, path: str) -> int:
        return int(self.filesystem.get_file_info(path).size or 0)


def absolute_uri(uri: str | Path) -> str:
    """A local path made absolute (what a run records as its data root); URIs as given."""
    text = str(uri)
    return text if "://" in text else Path(text).expanduser().resolve().as_posix()


def open_location(uri: str | Path) -> Location:
    """Resolve a local path or URI to a `Location` (see the module docstring for schemes)."""
    text = str(uri)
    if "://" not in text:
        try:
            text = Path(text).expanduser().resolve().as_posix()
        except RuntimeError as error:  # Path.resolve on a symlink loop
            raise OSError(f"{uri}: symlink loop ({error})") from error
        return Location(pafs.LocalFileSystem(), text, text)
    try:
        filesystem, base = pafs.FileSystem.from_uri(text)
    except ValueError:  # pyarrow.ArrowInvalid: a scheme pyarrow has no native filesystem for
        fsspec_fs, base = fsspec.core.url_to_fs(text)
        filesystem = pafs.PyFileSystem(pafs.FSSpecHandler(fsspec_fs))
    return Location(filesystem, base, text)


class UnwritableLocationError(UserInputError, OSError):
    """An output location that cannot be created or written; the message names it and why."""


def ensure_writable(uri: str | Path) -> str:
    """Create the output directory `uri` (local path or URI) and prove it takes a file.

    Returns the absolute local path (or the URI as given). Called before any work, so an
    unwritable `--out` (read-only mount, below a regular file, a symlink loop, no permission)
    is refused in one line instead of failing after the first shard or training step.
    """
    text = str(uri)
    try:
        location = open_location(text)
        location.filesystem.create_dir(location.base, recursive=True)
        probe = location.join(f".write-probe-{os.getpid()}")
        location.write_bytes(probe, b"")
        location.filesystem.delete_file(probe)
    except (OSError, RuntimeError, ValueError) as error:  # RuntimeError: a symlink loop
        reason = getattr(error, "strerror", None) or str(error)
        raise UnwritableLocationError(f"{text}: cannot write here ({reason})") from error
    return location.uri
