"""Where the MediaPipe pose model file comes from, and its fingerprint.

Owns the model setting: an explicit path (`PoseConfig.model_path`), else the environment
variable `STYLEMOTION_POSE_MODEL`, else a cached copy in `$XDG_CACHE_HOME/stylemotion/`
(`~/.cache/stylemotion/` by default), else one download of Google's official
`pose_landmarker_full.task` into that cache (written to a temporary name, checked to be a model
bundle, then renamed). Without internet the download fails with a `PoseModelError` that names
the settings to use instead; it is a `storage.errors.UserInputError`, so the command line
prints it as one line. `storage.checksums.file_sha256` fingerprints the model stored
on every `PoseTrack`.
"""

from __future__ import annotations

import logging
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from storage.errors import UserInputError

logger = logging.getLogger(__name__)

POSE_MODEL_ENV = "STYLEMOTION_POSE_MODEL"
POSE_MODEL_FILENAME = "pose_landmarker_full.task"
POSE_MODEL_URL = (
    "https://storage.googleapis.com/mediapipe-models/pose_landmarker/"
    "pose_landmarker_full/float16/latest/pose_landmarker_full.task"
)
_HOW_TO_SET = (
    f"set {POSE_MODEL_ENV}=/path/to/{POSE_MODEL_FILENAME} (or PoseConfig.model_path) "
    "to a local copy of the model"
)


class PoseModelError(UserInputError, RuntimeError):
    """The pose model file cannot be found, downloaded or loaded."""


def pose_model_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/stylemotion`, or `~/.cache/stylemotion` when XDG_CACHE_HOME is unset."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stylemotion"


def resolve_pose_model(
    model_path: str | Path | None = None,
    *,
    download_url: str = POSE_MODEL_URL,
    timeout_s: float = 60.0,
) -> Path:
    """The model file to load: explicit path, then $STYLEMOTION_POSE_MODEL, then the cache.

    An explicit or environment path must exist (no silent fallback to a download); only with
    neither set is the model downloaded, once, into the cache.
    """
    if model_path is not None:
        return _existing_file(Path(model_path), "the configured pose model path")
    from_environment = os.environ.get(POSE_MODEL_ENV)
    if from_environment:
        return _existing_file(Path(from_environment), f"{POSE_MODEL_ENV}")
    cached = pose_model_cache_dir() / POSE_MODEL_FILENAME
    if cached.is_file():
        return cached
    return download_pose_model(download_url, cached, timeout_s=timeout_s)


def _existing_file(path: Path, setting: str) -> Path:
    if not path.is_file():
        raise PoseModelError(f"{setting} points to {path}, which is not a file")
    return path


def download_pose_model(url: str, destination: Path, *, timeout_s: float = 60.0) -> Path:
    """Download `url` to `destination` atomically; `PoseModelError` says what to set if offline."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.{os.getpid()}.partial")
    logger.info("downloading the pose model from %s to %s", url, destination)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
        if not zipfile.is_zipfile(partial):  # a .task file is a zip bundle; not a proxy's page
            raise PoseModelError(f"{url} did not return a MediaPipe model bundle; {_HOW_TO_SET}")
        partial.replace(destination)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise PoseModelError(
            f"no pose model configured and downloading {url} to {destination} failed "
            f"({error}); {_HOW_TO_SET}"
        ) from error
    finally:
        partial.unlink(missing_ok=True)
    return destination
