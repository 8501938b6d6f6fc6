"""The records that cross stage boundaries: motion clips, failures and shard statistics.

A `MotionClip` is one continuous motion of one person from one source (a whole BVH file, or one
continuous shot of one person in a video) on the canonical skeleton. Training windows are cut
from clips at load time and never stored. A `FailureRecord` is one input that could not become a
clip, with the reason. `ShardStats` is the done-marker of a shard. Each record checks its shapes,
dtypes and values on construction, so a bad array fails where it is made, not three stages later.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import numpy as np

from storage.skeleton import NUM_JOINTS


class SourceKind(StrEnum):
    VIDEO = "video"
    MOCAP = "mocap"


class TrajectorySource(StrEnum):
    MEASURED = "measured"  # motion capture: the root really moved like this
    ESTIMATED = "estimated-static-camera"  # video: from image-space hip motion and body scale


class Split(StrEnum):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"


class RecordError(ValueError):
    """A record was built from values that break its contract."""


def make_clip_id(*identity_parts: object) -> str:
    """Deterministic 16-hex-digit id from the parts that identify a clip's origin."""
    text = "\x1f".join(str(part) for part in identity_parts)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_array(name: str, array: object, shape: tuple[int | None, ...]) -> None:
    if not isinstance(array, np.ndarray):
        raise RecordError(f"{name} must be a numpy array, got {type(array).__name__}")
    if array.dtype != np.float32:
        raise RecordError(f"{name} must be float32, got {array.dtype}")
    expected = tuple("T" if size is None else size for size in shape)
    if array.ndim != len(shape) or any(
        size is not None and actual != size for actual, size in zip(array.shape, shape, strict=True)
    ):
        raise RecordError(f"{name} must have shape {expected}, got {array.shape}")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise RecordError(f"{name} holds {bad} NaN/inf values")


@dataclass(frozen=True, eq=False)
class MotionClip:
    """One continuous motion of one person on the canonical skeleton.

    positions: (T, J, 3) float32, world frame, metres, y up.
    confidence: (T, J) float32 in [0, 1]; 1 for motion capture.
    root_trajectory: (T, 3) float32, pelvis ground position x, z and heading yaw (radians, 0 = +z).
    trajectory_source: whether the global root motion was measured (mocap) or estimated (video).
    video_id, pose_track_id: for video clips, the videos-table row and poses-table track they
    were derived from (None for mocap).
    style: the shared style name (`extract.mocap.style_vocabulary`); style_original: the name the
    clip's own dataset gave it (None when the two are the same or the clip predates it).
    """

    clip_id: str
    positions: np.ndarray
    confidence: np.ndarray
    root_trajectory: np.ndarray
    fps: float
    source_kind: SourceKind
    source_uri: str
    dataset: str
    licence: str
    extractor: str
    extractor_version: str
    style: str | None = None
    content: str | None = None
    take: str | None = None
    split: Split = Split.TRAIN
    track_index: int = 0
    start_time_s: float = 0.0
    scene_label: str | None = None
    trajectory_source: TrajectorySource = TrajectorySource.MEASURED
    video_id: str | None = None
    pose_track_id: str | None = None
    style_original: str | None = None  # the dataset's own style name, before the vocabulary

    def __post_init__(self) -> None:
        if not self.clip_id:
            raise RecordError("clip_id is empty")
        _check_array("positions", self.positions, (None, NUM_JOINTS, 3))
        num_frames = self.positions.shape[0]
        if num_frames < 1:
            raise RecordError(f"clip {self.clip_id} has zero frames")
        _check_array("confidence", self.confidence, (num_frames, NUM_JOINTS))
        _check_array("root_trajectory", self.root_trajectory, (num_frames, 3))
        if self.confidence.min() < 0.0 or self.confidence.max() > 1.0:
            raise RecordError("confidence must lie in [0, 1]")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise RecordError(f"fps must be positive and finite, got {self.fps}")
        object.__setattr__(self, "source_kind", SourceKind(self.source_kind))
        object.__setattr__(self, "split", Split(self.split))
        object.__setattr__(self, "trajectory_source", TrajectorySource(self.trajectory_source))
        if self.track_index < 0:
            raise RecordError(f"track_index must be >= 0, got {self.track_index}")

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps


@dataclass(frozen=True)
class FailureRecord:
    """One input that could not become a clip: which, at what stage, and why."""

    source_uri: str
    dataset: str
    stage: str
    error_kind: str
    message: str
    recorded_at: str = field(default_factory=utc_now_iso)

    def __post_init__(self) -> None:
        for name in ("source_uri", "stage", "error_kind", "message"):
            if not getattr(self, name):
                raise RecordError(f"FailureRecord.{name} is empty")


@dataclass(frozen=True)
class ShardStats:
    """Done-marker of a shard: written last, after every table file of the shard is in place.

    `rows` maps each table the shard wrote (e.g. clips, failures) to its row count;
    `num_frames` counts the motion frames in it (clips or pose tracks). What the marker vouches
    for is checked by `storage.shard_health`: each table file's byte size (`table_bytes`) and
    its Parquet footer's row count (`rows`). `settings_json` is the canonical JSON of the stage
    settings that shaped the shard (their digest is part of the shard id), e.g. the split rule.
    Markers written before `table_bytes` existed are checked by existence and row count only.
    """

    shard_id: str
    rows: dict[str, int]
    schema_versions: dict[str, int]
    num_inputs: int
    num_frames: int
    bytes_written: int
    inputs: tuple[str, ...]
    written_at: str = field(default_factory=utc_now_iso)
    table_bytes: dict[str, int] = field(default_factory=dict)
    settings_json: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        counts = [self.num_inputs, self.num_frames, self.bytes_written, *self.rows.values()]
        if min(counts) < 0:
            raise RecordError(f"ShardStats of {self.shard_id} holds a negative count")

    @property
    def num_clips(self) -> int:
        return self.rows.get("clips", 0)

    @property
    def num_failures(self) -> int:
        return self.rows.get("failures", 0)
