"""Scenes table: record checks, write/read round trip through a shard, the join onto clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from storage.filesystem import open_location
from storage.records import RecordError
from storage.scene_records import UNKNOWN_SCENE, SceneLabel
from storage.scene_schema import (
    SCENE_LABEL_COLUMNS,
    parse_scene_shard_id,
    scene_shard_id,
    scenes_to_table,
    table_to_scene_labels,
)
from storage.scene_summary import summarise_scenes
from storage.schema import SCENES_TABLE
from storage.shard_reader import ShardReader
from storage.shard_writer import ShardPlan, write_shard, write_table_shard
from tests.storage.clip_factory import make_clip

VOCABULARY = ("street", "park", "stage")


def _label(clip_id: str, labeller_id: str = "aaaa", **changes) -> SceneLabel:
    values = dict(
        clip_id=clip_id,
        labeller_id=labeller_id,
        vocabulary=VOCABULARY,
        keyframe_times_s=(0.5, 1.5),
        keyframe_source="video",
        clip_model_id="local-dir:/m",
        clip_model_version="abc",
        label="park",
        confidence=0.7,
        probabilities=np.array([0.1, 0.7, 0.2], np.float32),
        embedding=np.linspace(-1, 1, 8).astype(np.float32),
        keyframes=(b"\xff\xd8one", b"\xff\xd8two"),
    )
    return SceneLabel(**(values | changes))


def test_record_refuses_broken_labels() -> None:
    with pytest.raises(RecordError, match="neither in the vocabulary"):
        _label("c1", label="beach")
    with pytest.raises(RecordError, match="sum to 1"):
        _label("c1", probabilities=np.array([0.5, 0.7, 0.2], np.float32))
    with pytest.raises(RecordError, match="3 entries"):
        _label("c1", probabilities=np.array([0.5, 0.5], np.float32))
    with pytest.raises(RecordError, match="neither a label nor a caption"):
        _label("c1", label=None, probabilities=None, embedding=None, clip_model_id=None)
    with pytest.raises(RecordError, match="differ in length"):
        _label("c1", keyframes=(b"x",))
    assert _label("c1", label=UNKNOWN_SCENE).label == UNKNOWN_SCENE


def test_round_trip_through_a_shard_and_join_onto_clips(tmp_path: Path) -> None:
    location = open_location(tmp_path)
    clips = [make_clip(index) for index in range(3)]
    write_shard(location, ShardPlan("clips-1", ("a",)), clips, [])
    captioned = _label(
        clips[1].clip_id,
        label=None,
        probabilities=None,
        embedding=None,
        clip_model_id=None,
        caption_model_id="blip",
        caption="a stage with lights",
        caption_label="stage",
        caption_similarity=0.31,
        keyframes=(),
    )
    labels = [_label(clips[0].clip_id), captioned]
    shard = scene_shard_id("aaaa", "clips-1")
    assert parse_scene_shard_id(shard) == ("aaaa", "clips-1")
    assert parse_scene_shard_id("clips-1") is None
    write_table_shard(
        location, ShardPlan(shard, ("x",)), {SCENES_TABLE: scenes_to_table(labels)}, 4
    )
    reader = ShardReader(tmp_path)
    back = list(table_to_scene_labels(reader.scenes("aaaa")))
    assert [b.clip_id for b in back] == [clips[0].clip_id, clips[1].clip_id]
    np.testing.assert_array_equal(back[0].embedding, labels[0].embedding)
    np.testing.assert_array_equal(back[0].probabilities, labels[0].probabilities)
    assert back[0].keyframes == labels[0].keyframes and back[0].vocabulary == VOCABULARY
    assert back[1].embedding is None and back[1].caption == "a stage with lights"
    assert reader.scenes("other").num_rows == 0
    assert reader.scenes(columns=SCENE_LABEL_COLUMNS).column_names == list(SCENE_LABEL_COLUMNS)
    joined = {r["clip_id"]: r for r in reader.labels_with_scenes("aaaa").to_pylist()}
    assert joined[clips[0].clip_id]["scene_label"] == "park"
    assert joined[clips[1].clip_id]["scene_caption_label"] == "stage"
    assert joined[clips[2].clip_id]["scene_label"] is None
    (summary,) = summarise_scenes(reader)
    assert (summary.clips, summary.labels, summary.unknown_rate) == (2, {"park": 1}, 0.0)


def test_reader_leaves_out_and_names_an_unknown_scenes_schema_version(tmp_path: Path) -> None:
    location = open_location(tmp_path)
    table = scenes_to_table([_label("c1")])
    write_table_shard(location, ShardPlan("scenes-aaaa-x", ("c1",)), {SCENES_TABLE: table}, 2)
    path = tmp_path / "scenes" / "scenes-aaaa-x.parquet"
    metadata = dict(table.schema.metadata) | {b"stylemotion.schema_version": b"99"}
    pq.write_table(table.replace_schema_metadata(metadata), path)
    reader = ShardReader(tmp_path)
    assert reader.scenes().num_rows == 0  # left out, the rest of the root stays readable
    (problem,) = reader.damaged_shards()
    assert problem.shard_id == "scenes-aaaa-x" and "version 99" in problem.reason
