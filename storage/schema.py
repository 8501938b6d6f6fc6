"""Explicit, versioned Arrow schemas for the clips and failures tables, and record <-> Arrow.

Arrays are stored as one flat float32 buffer plus list offsets: `positions` is
`list<fixed_size_list<float32, J*3>>` (one list entry per frame), so a reader turns a whole
record batch into numpy without Python loops over frames. The schema name and version live in
the Parquet file metadata (`stylemotion.table`, `stylemotion.schema_version`,
`stylemotion.skeleton`); readers refuse a table, version or skeleton they do not know, with a
message that says which.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, fields

import numpy as np
import pyarrow as pa

from storage.errors import UserInputError
from storage.records import FailureRecord, MotionClip, RecordError
from storage.skeleton import NUM_JOINTS, SKELETON_NAME

CLIPS_TABLE = "clips"
FAILURES_TABLE = "failures"
VIDEOS_TABLE = "videos"
POSES_TABLE = "poses"
SCENES_TABLE = "scenes"
SCHEMA_VERSIONS: dict[str, int] = {
    CLIPS_TABLE: 2,
    FAILURES_TABLE: 1,
    VIDEOS_TABLE: 1,
    POSES_TABLE: 1,
    SCENES_TABLE: 1,
}

# Older versions this code still reads (their missing nullable columns read as null).
# clips v2 (issue 15) added `style_original`.
READABLE_OLDER_VERSIONS: dict[str, frozenset[int]] = {CLIPS_TABLE: frozenset({1})}

META_TABLE = b"stylemotion.table"
META_VERSION = b"stylemotion.schema_version"
META_SKELETON = b"stylemotion.skeleton"


class SchemaVersionError(UserInputError, RecordError):
    """A file was written with a table, schema version or skeleton this code does not know."""


def frames_of(width: int) -> pa.DataType:
    return pa.list_(pa.list_(pa.float32(), width))


_CLIP_LABEL_FIELDS = [
    pa.field("clip_id", pa.string(), nullable=False),
    pa.field("num_frames", pa.int32(), nullable=False),
    pa.field("fps", pa.float64(), nullable=False),
    pa.field("source_kind", pa.string(), nullable=False),
    pa.field("source_uri", pa.string(), nullable=False),
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("licence", pa.string(), nullable=False),
    pa.field("extractor", pa.string(), nullable=False),
    pa.field("extractor_version", pa.string(), nullable=False),
    pa.field("style", pa.string()),
    pa.field("content", pa.string()),
    pa.field("take", pa.string()),
    pa.field("split", pa.string(), nullable=False),
    pa.field("track_index", pa.int32(), nullable=False),
    pa.field("start_time_s", pa.float64(), nullable=False),
    pa.field("scene_label", pa.string()),
    pa.field("trajectory_source", pa.string(), nullable=False),
    pa.field("video_id", pa.string()),
    pa.field("pose_track_id", pa.string()),
    pa.field("style_original", pa.string()),
]
_CLIP_ARRAY_FIELDS = [
    pa.field("positions", frames_of(NUM_JOINTS * 3), nullable=False),
    pa.field("confidence", frames_of(NUM_JOINTS), nullable=False),
    pa.field("root_trajectory", frames_of(3), nullable=False),
]
# Columns a reader can filter on or list without touching the arrays.
CLIP_LABEL_COLUMNS: tuple[str, ...] = tuple(field.name for field in _CLIP_LABEL_FIELDS)


def table_metadata(table: str) -> dict[bytes, bytes]:
    return {
        META_TABLE: table.encode(),
        META_VERSION: str(SCHEMA_VERSIONS[table]).encode(),
        META_SKELETON: SKELETON_NAME.encode(),
    }


CLIPS_SCHEMA = pa.schema(
    _CLIP_LABEL_FIELDS + _CLIP_ARRAY_FIELDS, metadata=table_metadata(CLIPS_TABLE)
)
FAILURES_SCHEMA = pa.schema(
    [pa.field(f.name, pa.string(), nullable=False) for f in fields(FailureRecord)],
    metadata=table_metadata(FAILURES_TABLE),
)


def check_schema_metadata(metadata: dict[bytes, bytes] | None, table: str, where: str) -> None:
    """Refuse a file whose metadata names another table, an unknown version or skeleton."""
    metadata = metadata or {}
    found_table = metadata.get(META_TABLE, b"").decode() or "(none)"
    if found_table != table:
        raise SchemaVersionError(f"{where}: expected a '{table}' table, found '{found_table}'")
    found_version = metadata.get(META_VERSION, b"").decode() or "(none)"
    readable = {SCHEMA_VERSIONS[table], *READABLE_OLDER_VERSIONS.get(table, ())}
    if found_version not in {str(version) for version in readable}:
        raise SchemaVersionError(
            f"{where}: '{table}' schema version {found_version} is not supported by this "
            f"stylemotion (it reads version {SCHEMA_VERSIONS[table]}); re-create the data or "
            "upgrade stylemotion"
        )
    found_skeleton = metadata.get(META_SKELETON, b"").decode()
    if found_skeleton != SKELETON_NAME:
        raise SchemaVersionError(
            f"{where}: skeleton '{found_skeleton}' is not this code's '{SKELETON_NAME}'"
        )


def frames_array(arrays: Sequence[np.ndarray], width: int) -> pa.ListArray:
    """Concatenate per-clip `(T_i, ...)` arrays into list<fixed_size_list<float32, width>>."""
    lengths = np.array([len(array) for array in arrays], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    flat = np.concatenate([np.asarray(a, np.float32).reshape(-1) for a in arrays] or [[]])
    frames = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), width)
    return pa.ListArray.from_arrays(pa.array(offsets), frames)


def clips_to_table(clips: Sequence[MotionClip]) -> pa.Table:
    """Arrow table (CLIPS_SCHEMA) holding `clips` in order."""
    columns: dict[str, pa.Array] = {}
    for field in _CLIP_LABEL_FIELDS:
        if field.name == "num_frames":
            values = [clip.num_frames for clip in clips]
        else:
            values = [_plain(getattr(clip, field.name)) for clip in clips]
        columns[field.name] = pa.array(values, field.type)
    columns["positions"] = frames_array([c.positions for c in clips], NUM_JOINTS * 3)
    columns["confidence"] = frames_array([c.confidence for c in clips], NUM_JOINTS)
    columns["root_trajectory"] = frames_array([c.root_trajectory for c in clips], 3)
    return pa.Table.from_pydict(columns, schema=CLIPS_SCHEMA)


def _plain(value: object) -> object:
    return str(value) if isinstance(value, str) else value


def split_frames(column: pa.ChunkedArray | pa.Array, shape: tuple[int, ...]) -> list[np.ndarray]:
    """Inverse of `_frames_array`: one `(T_i, *shape)` numpy view per row, no per-frame loop."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    offsets = array.offsets.to_numpy()
    flat = array.flatten().flatten().to_numpy(zero_copy_only=False)  # rows -> frames -> values
    frames = flat.reshape((-1, *shape))
    start = offsets[0]
    return [frames[a - start : b - start] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]


def table_to_clips(table: pa.Table | pa.RecordBatch) -> Iterator[MotionClip]:
    """Yield `MotionClip`s from a clips table or record batch (CLIPS_SCHEMA columns)."""
    labels = table.select(list(CLIP_LABEL_COLUMNS)).to_pylist()
    positions = split_frames(table.column("positions"), (NUM_JOINTS, 3))
    confidence = split_frames(table.column("confidence"), (NUM_JOINTS,))
    trajectory = split_frames(table.column("root_trajectory"), (3,))
    for row, pos, conf, traj in zip(labels, positions, confidence, trajectory, strict=True):
        row.pop("num_frames")
        yield MotionClip(positions=pos, confidence=conf, root_trajectory=traj, **row)


def failures_to_table(failures: Sequence[FailureRecord]) -> pa.Table:
    rows = [asdict(failure) for failure in failures]
    return pa.Table.from_pylist(rows, schema=FAILURES_SCHEMA)


def table_to_failures(table: pa.Table) -> list[FailureRecord]:
    return [FailureRecord(**row) for row in table.to_pylist()]
