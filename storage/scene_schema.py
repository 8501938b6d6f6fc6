"""Arrow schema of the `scenes` table and `SceneLabel` <-> Arrow.

Same conventions as `storage.schema`: table name and version in the file metadata, vectors as
one flat float32 buffer plus list offsets (`probabilities`, `embedding` are `list<float32>`:
their lengths depend on the vocabulary and the model), keyframes as `list<binary>` (JPEG).
`SCENE_LABEL_COLUMNS` are the small columns a summary or a join reads without the vectors and
images.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa

from storage.scene_records import SceneLabel
from storage.schema import SCENES_TABLE, table_metadata

_LABEL_FIELDS = [
    pa.field("clip_id", pa.string(), nullable=False),
    pa.field("labeller_id", pa.string(), nullable=False),
    pa.field("keyframe_source", pa.string(), nullable=False),
    pa.field("clip_model_id", pa.string()),
    pa.field("clip_model_version", pa.string()),
    pa.field("label", pa.string()),
    pa.field("confidence", pa.float32()),
    pa.field("caption_model_id", pa.string()),
    pa.field("caption_model_version", pa.string()),
    pa.field("caption", pa.string()),
    pa.field("caption_label", pa.string()),
    pa.field("caption_similarity", pa.float32()),
    pa.field("labelled_at", pa.string(), nullable=False),
]
_VECTOR_FIELDS = ("probabilities", "embedding")
SCENES_SCHEMA = pa.schema(
    _LABEL_FIELDS
    + [
        pa.field("vocabulary", pa.list_(pa.string()), nullable=False),
        pa.field("keyframe_times_s", pa.list_(pa.float64()), nullable=False),
        pa.field("probabilities", pa.list_(pa.float32())),
        pa.field("embedding", pa.list_(pa.float32())),
        pa.field("keyframes", pa.list_(pa.binary()), nullable=False),
    ],
    metadata=table_metadata(SCENES_TABLE),
)
SCENE_LABEL_COLUMNS: tuple[str, ...] = tuple(field.name for field in _LABEL_FIELDS)
SCENE_SHARD_PREFIX = "scenes"


def scene_shard_id(labeller_id: str, clip_shard_id: str) -> str:
    """One scenes shard per clip shard and labeller: `scenes-<labeller id>-<clip shard id>`."""
    return f"{SCENE_SHARD_PREFIX}-{labeller_id}-{clip_shard_id}"


def parse_scene_shard_id(shard_id: str) -> tuple[str, str] | None:
    """(labeller id, clip shard id) of a scenes shard id; None for any other shard."""
    prefix, _, rest = shard_id.partition("-")
    labeller_id, _, clip_shard_id = rest.partition("-")
    if prefix != SCENE_SHARD_PREFIX or not labeller_id or not clip_shard_id:
        return None
    return labeller_id, clip_shard_id


def _vector_array(vectors: Sequence[np.ndarray | None]) -> pa.ListArray:
    """Rows of float32 vectors (None for a missing one) as list<float32>, one flat buffer."""
    lengths = np.array([0 if v is None else len(v) for v in vectors], dtype=np.int32)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    present = [v for v in vectors if v is not None]
    flat = np.concatenate(present).astype(np.float32) if present else np.zeros(0, np.float32)
    mask = pa.array([v is None for v in vectors], pa.bool_())
    return pa.ListArray.from_arrays(offsets, pa.array(flat, pa.float32()), mask=mask)


def scenes_to_table(labels: Sequence[SceneLabel]) -> pa.Table:
    """Arrow table (SCENES_SCHEMA) holding `labels` in order."""
    columns: dict[str, pa.Array] = {}
    for field in _LABEL_FIELDS:
        values = [getattr(label, field.name) for label in labels]
        columns[field.name] = pa.array(
            [str(v) if isinstance(v, str) else v for v in values], field.type
        )
    columns["vocabulary"] = pa.array([list(s.vocabulary) for s in labels], pa.list_(pa.string()))
    columns["keyframe_times_s"] = pa.array(
        [list(s.keyframe_times_s) for s in labels], pa.list_(pa.float64())
    )
    for name in _VECTOR_FIELDS:
        columns[name] = _vector_array([getattr(label, name) for label in labels])
    columns["keyframes"] = pa.array([list(s.keyframes) for s in labels], pa.list_(pa.binary()))
    return pa.Table.from_pydict(columns, schema=SCENES_SCHEMA)


def _vectors(column: pa.ChunkedArray | pa.Array) -> list[np.ndarray | None]:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    flat = array.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    offsets = array.offsets.to_numpy()
    start = offsets[0]
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    return [
        flat[a - start : b - start].copy() if ok else None
        for a, b, ok in zip(offsets[:-1], offsets[1:], valid, strict=True)
    ]


def table_to_scene_labels(table: pa.Table | pa.RecordBatch) -> Iterator[SceneLabel]:
    """Yield `SceneLabel`s from a scenes table or record batch (all SCENES_SCHEMA columns)."""
    rows = table.select(
        [*SCENE_LABEL_COLUMNS, "vocabulary", "keyframe_times_s", "keyframes"]
    ).to_pylist()
    vectors = {name: _vectors(table.column(name)) for name in _VECTOR_FIELDS}
    for index, row in enumerate(rows):
        yield SceneLabel(**row, **{name: vectors[name][index] for name in _VECTOR_FIELDS})
