"""Arrow schemas of the video path's tables: `videos` (crawl provenance) and `poses` (raw tracks).

Same conventions as `storage.schema`: versions in the file metadata, per-frame arrays as one flat
float32 buffer plus list offsets (`poses.world_landmarks` is `list<fixed_size_list<float32, 99>>`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, fields

import numpy as np
import pyarrow as pa

from storage.schema import (
    POSES_TABLE,
    VIDEOS_TABLE,
    frames_array,
    frames_of,
    split_frames,
    table_metadata,
)
from storage.video_records import NUM_LANDMARKS, PoseTrack, VideoRecord

_VIDEO_TYPES: dict[str, pa.DataType] = {
    "duration_s": pa.float64(),
    "fps": pa.float64(),
    "width": pa.int32(),
    "height": pa.int32(),
    "size_bytes": pa.int64(),
}
_VIDEO_REQUIRED = {"video_id", "source_url", "source_kind", "status", "fetched_at"}
VIDEOS_SCHEMA = pa.schema(
    [
        pa.field(
            f.name, _VIDEO_TYPES.get(f.name, pa.string()), nullable=f.name not in _VIDEO_REQUIRED
        )
        for f in fields(VideoRecord)
    ],
    metadata=table_metadata(VIDEOS_TABLE),
)

_POSE_LABEL_FIELDS = [
    pa.field("track_id", pa.string(), nullable=False),
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("shot_index", pa.int32(), nullable=False),
    pa.field("track_index", pa.int32(), nullable=False),
    pa.field("start_frame", pa.int32(), nullable=False),
    pa.field("num_frames", pa.int32(), nullable=False),
    pa.field("fps", pa.float64(), nullable=False),
    pa.field("width", pa.int32(), nullable=False),
    pa.field("height", pa.int32(), nullable=False),
    pa.field("model_name", pa.string(), nullable=False),
    pa.field("model_sha256", pa.string(), nullable=False),
    pa.field("extractor_version", pa.string(), nullable=False),
]
_POSE_ARRAYS: dict[str, tuple[int, ...]] = {
    "world_landmarks": (NUM_LANDMARKS, 3),
    "image_landmarks": (NUM_LANDMARKS, 3),
    "visibility": (NUM_LANDMARKS,),
    "presence": (NUM_LANDMARKS,),
}
POSES_SCHEMA = pa.schema(
    _POSE_LABEL_FIELDS
    + [
        pa.field(name, frames_of(int(np.prod(shape))), nullable=False)
        for name, shape in _POSE_ARRAYS.items()
    ]
    + [pa.field("detected", pa.list_(pa.bool_()), nullable=False)],
    metadata=table_metadata(POSES_TABLE),
)
POSE_LABEL_COLUMNS: tuple[str, ...] = tuple(field.name for field in _POSE_LABEL_FIELDS)


def videos_to_table(videos: Sequence[VideoRecord]) -> pa.Table:
    rows = [
        {key: (str(v) if hasattr(v, "value") else v) for key, v in asdict(video).items()}
        for video in videos
    ]
    return pa.Table.from_pylist(rows, schema=VIDEOS_SCHEMA)


def table_to_videos(table: pa.Table) -> list[VideoRecord]:
    return [VideoRecord(**row) for row in table.to_pylist()]


def tracks_to_table(tracks: Sequence[PoseTrack]) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    for field in _POSE_LABEL_FIELDS:
        columns[field.name] = pa.array([getattr(t, field.name) for t in tracks], field.type)
    for name, shape in _POSE_ARRAYS.items():
        columns[name] = frames_array([getattr(t, name) for t in tracks], int(np.prod(shape)))
    offsets = np.concatenate([[0], np.cumsum([t.num_frames for t in tracks])]).astype(np.int32)
    flags = np.concatenate([t.detected for t in tracks]) if tracks else np.zeros(0, np.bool_)
    columns["detected"] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flags, pa.bool_()))
    return pa.Table.from_pydict(columns, schema=POSES_SCHEMA)


def table_to_tracks(table: pa.Table | pa.RecordBatch) -> Iterator[PoseTrack]:
    labels = table.select(list(POSE_LABEL_COLUMNS)).to_pylist()
    arrays = {name: split_frames(table.column(name), shape) for name, shape in _POSE_ARRAYS.items()}
    detected = table.column("detected")
    for row_index, row in enumerate(labels):
        row.pop("num_frames")
        flags = np.asarray(detected[row_index].values.to_numpy(zero_copy_only=False), np.bool_)
        yield PoseTrack(
            **row,
            **{name: values[row_index] for name, values in arrays.items()},
            detected=flags,
        )
