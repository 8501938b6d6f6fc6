"""Records of the video path: one row per crawled video, one raw pose track per person and shot.

`VideoRecord` is the videos table: provenance of every video the crawl saw (where from, which
query and style label, what the site said about it, what we fetched) and whether it worked.
`PoseTrack` is the poses table: the raw MediaPipe output for one person in one shot of one video,
kept so canonicalisation can be re-run without re-running the pose model. Frames where the
person was not detected are kept (zeros, `detected` False) so frame indices stay aligned with
the normalised video.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from storage.records import RecordError

NUM_LANDMARKS = 33


class VideoSourceKind(StrEnum):
    SEARCH = "search"  # a keyword search result (ytsearchN:angry walk)
    URL = "url"  # a URL the user listed
    LOCAL = "local"  # a local file or folder


class VideoStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"


@dataclass(frozen=True)
class VideoRecord:
    """One video seen by the crawl, with provenance; `status` says whether it was fetched.

    `media_path` is relative to the dataset root (e.g. `media/<video_id>.mp4`). Failed rows keep
    everything known so far plus `error_kind` (a stable class name) and `error_message`.
    """

    video_id: str
    source_url: str
    source_kind: VideoSourceKind
    status: VideoStatus
    fetched_at: str
    style: str | None = None
    query: str | None = None
    extractor: str | None = None
    extractor_id: str | None = None
    title: str | None = None
    uploader: str | None = None
    licence: str | None = None
    duration_s: float | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    media_path: str | None = None
    error_kind: str | None = None
    error_message: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "source_kind", VideoSourceKind(self.source_kind))
        object.__setattr__(self, "status", VideoStatus(self.status))
        if not self.video_id or not self.source_url:
            raise RecordError("VideoRecord needs a video_id and a source_url")
        if self.status is VideoStatus.OK and not (self.media_path and self.sha256):
            raise RecordError(f"video {self.video_id} is ok but has no media_path/sha256")
        if self.status is VideoStatus.FAILED and not (self.error_kind and self.error_message):
            raise RecordError(f"video {self.video_id} failed without error_kind/error_message")


def _check_float_array(name: str, array: object, shape: tuple[int, ...]) -> None:
    if not isinstance(array, np.ndarray) or array.dtype != np.float32 or array.shape != shape:
        got = (getattr(array, "dtype", type(array).__name__), getattr(array, "shape", None))
        raise RecordError(f"{name} must be float32 {shape}, got {got}")
    if not np.isfinite(array).all():
        raise RecordError(f"{name} holds NaN/inf values")


@dataclass(frozen=True, eq=False)
class PoseTrack:
    """Raw pose of one person through one shot of one video, at the normalised frame rate.

    world_landmarks: (T, 33, 3) float32, metres, hip-centred (MediaPipe world coordinates).
    image_landmarks: (T, 33, 3) float32, x and y normalised to the frame, z relative depth.
    visibility, presence: (T, 33) float32 in [0, 1].
    detected: (T,) bool; where False every landmark array holds zeros for that frame.
    start_frame: index of the track's first frame in the normalised video.
    """

    track_id: str
    video_id: str
    shot_index: int
    track_index: int
    start_frame: int
    fps: float
    width: int
    height: int
    world_landmarks: np.ndarray
    image_landmarks: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    detected: np.ndarray
    model_name: str
    model_sha256: str
    extractor_version: str

    def __post_init__(self) -> None:
        num_frames = int(getattr(self.detected, "shape", (0,))[0])
        if not isinstance(self.detected, np.ndarray) or self.detected.dtype != np.bool_:
            raise RecordError("detected must be a bool numpy array")
        if num_frames < 1 or self.detected.ndim != 1:
            raise RecordError(f"track {self.track_id} must have >= 1 frame, got {num_frames}")
        _check_float_array("world_landmarks", self.world_landmarks, (num_frames, NUM_LANDMARKS, 3))
        _check_float_array("image_landmarks", self.image_landmarks, (num_frames, NUM_LANDMARKS, 3))
        _check_float_array("visibility", self.visibility, (num_frames, NUM_LANDMARKS))
        _check_float_array("presence", self.presence, (num_frames, NUM_LANDMARKS))
        if min(self.start_frame, self.shot_index, self.track_index) < 0:
            raise RecordError("start_frame, shot_index and track_index must be >= 0")
        if self.fps <= 0 or self.width <= 0 or self.height <= 0:
            raise RecordError("fps, width and height must be positive")

    @property
    def num_frames(self) -> int:
        return int(self.detected.shape[0])

    @property
    def coverage(self) -> float:
        """Fraction of frames where the person was detected."""
        return float(self.detected.mean())
