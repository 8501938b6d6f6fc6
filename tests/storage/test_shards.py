"""Shard writer/reader: round trips, filters, done-markers, URIs and schema-version refusal."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from storage.filesystem import open_location
from storage.records import FailureRecord
from storage.schema import clips_to_table, table_to_clips
from storage.shard_reader import ClipFilter, ClipNotFoundError, ShardReader
from storage.shard_writer import (
    ShardPlan,
    is_shard_done,
    plan_shards,
    remove_shard,
    write_shard,
)
from tests.storage.clip_factory import make_clip

STYLES = ("happy", "sad", "angry")


def _clips(count: int) -> list:
    return [
        make_clip(
            i,
            num_frames=20 + 7 * i,
            style=STYLES[i % 3],
            content=f"c{i % 2}",
            split="test" if i % 4 == 0 else "train",
        )
        for i in range(count)
    ]


def _write_two_shards(root: str) -> list:
    clips = _clips(9)
    location = open_location(root)
    plans = plan_shards([c.source_uri for c in clips], 5, "unit")
    failure = FailureRecord("file:///bad.bvh", "unit", "ingest", "BvhFormatError", "bad.bvh: cut")
    write_shard(location, plans[0], clips[:5], [failure])
    write_shard(location, plans[1], clips[5:], [])
    return clips


def test_table_round_trip_keeps_arrays_and_labels() -> None:
    clips = _clips(5)
    table = clips_to_table(clips)
    for original, restored in zip(clips, table_to_clips(table), strict=True):
        assert restored.clip_id == original.clip_id and restored.style == original.style
        assert restored.split == original.split and restored.fps == original.fps
        np.testing.assert_array_equal(restored.positions, original.positions)
        np.testing.assert_array_equal(restored.root_trajectory, original.root_trajectory)
    sliced = list(table_to_clips(table.slice(2, 2)))  # offsets not starting at zero
    np.testing.assert_array_equal(sliced[0].positions, clips[2].positions)


@pytest.mark.parametrize("as_uri", [False, True])
def test_write_then_read_with_filters(tmp_path: Path, as_uri: bool) -> None:
    root = tmp_path.as_uri() if as_uri else str(tmp_path)
    clips = _write_two_shards(root)
    reader = ShardReader(root)
    assert len(reader.shard_ids()) == 2
    everything = list(reader.iter_clips(batch_size=2))
    assert sorted(c.clip_id for c in everything) == sorted(c.clip_id for c in clips)
    happy = list(reader.iter_clips(ClipFilter(style="happy")))
    assert {c.clip_id for c in happy} == {c.clip_id for c in clips if c.style == "happy"}
    mixed = reader.labels(ClipFilter(style=["sad", "angry"], content="c1", split="train"))
    expected = {
        c.clip_id
        for c in clips
        if c.style in ("sad", "angry") and c.content == "c1" and c.split == "train"
    }
    assert set(mixed["clip_id"].to_pylist()) == expected and expected
    assert [f.error_kind for f in reader.failures()] == ["BvhFormatError"]
    stats = {s.shard_id: s for s in reader.stats()}
    assert sum(s.num_clips for s in stats.values()) == 9
    assert sum(s.num_frames for s in stats.values()) == sum(c.num_frames for c in clips)


def test_get_clip_and_missing_clip(tmp_path: Path) -> None:
    clips = _write_two_shards(str(tmp_path))
    reader = ShardReader(tmp_path)
    np.testing.assert_array_equal(reader.get_clip(clips[7].clip_id).positions, clips[7].positions)
    with pytest.raises(ClipNotFoundError, match="nope"):
        reader.get_clip("nope")


def test_fsspec_only_filesystem(tmp_path: Path) -> None:
    root = f"memory://stylemotion-{uuid.uuid4().hex}/dataset"
    clips = _write_two_shards(root)
    assert len(list(ShardReader(root).iter_clips())) == len(clips)


def test_plan_is_deterministic_and_order_free() -> None:
    inputs = [f"f{i:02d}.bvh" for i in range(11)]
    first = plan_shards(inputs, 4, "p")
    assert first == plan_shards(list(reversed(inputs)) + inputs[:2], 4, "p")
    assert [len(p.inputs) for p in first] == [4, 4, 3]
    changed = plan_shards(inputs[:-1] + ["zz.bvh"], 4, "p")
    assert [p.shard_id for p in changed[:2]] == [p.shard_id for p in first[:2]]
    assert changed[2].shard_id != first[2].shard_id


def test_unfinished_shard_is_invisible_and_rewritten(tmp_path: Path) -> None:
    location = open_location(tmp_path)
    clips = _clips(3)
    plan = ShardPlan("unit-00000-abc", tuple(c.source_uri for c in clips))
    write_shard(location, plan, clips, [])
    # Simulate a crash after the data files but before the done-marker.
    (tmp_path / "_done" / "unit-00000-abc.json").unlink()
    (tmp_path / "clips" / ".tmp-unit-00000-abc.parquet-dead").write_bytes(b"partial")
    reader = ShardReader(tmp_path)
    assert reader.shard_ids() == [] and list(reader.iter_clips()) == []
    assert not is_shard_done(location, plan.shard_id)
    write_shard(location, plan, clips, [])
    assert not list((tmp_path / "clips").glob(".tmp-*"))
    assert len(list(reader.iter_clips())) == 3
    remove_shard(location, plan.shard_id)
    assert (
        reader.shard_ids() == [] and not (tmp_path / "clips" / f"{plan.shard_id}.parquet").exists()
    )


def test_unknown_schema_version_is_left_out_and_named(tmp_path: Path) -> None:
    clips = _write_two_shards(str(tmp_path))
    path = sorted((tmp_path / "clips").glob("*.parquet"))[0]
    table = pq.read_table(path)
    metadata = dict(table.schema.metadata)
    metadata[b"stylemotion.schema_version"] = b"99"
    pq.write_table(table.replace_schema_metadata(metadata), path)
    reader = ShardReader(tmp_path)
    assert len(list(reader.iter_clips())) == len(clips) - 5  # the other shard stays readable
    (problem,) = reader.damaged_shards()
    assert "version 99" in problem.reason and not problem.rewrite
    assert is_shard_done(open_location(tmp_path), problem.shard_id)  # never overwritten
    with pytest.raises(KeyError):
        reader.read_shard("clips", problem.shard_id)


def _damage_truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _damage_delete(path: Path) -> None:
    path.unlink()


def _damage_rewrite_fewer_rows(path: Path) -> None:
    table = pq.read_table(path)
    pq.write_table(table.slice(0, 1), path)


def _damage_flip_footer(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-12:-8] = b"\xff\xff\xff\xff"  # the footer length: same size, unreadable footer
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage",
    [_damage_truncate, _damage_delete, _damage_rewrite_fewer_rows, _damage_flip_footer],
)
def test_a_damaged_shard_is_named_left_out_and_rewritten(tmp_path: Path, damage) -> None:
    clips = _write_two_shards(str(tmp_path))
    location = open_location(tmp_path)
    plans = plan_shards([c.source_uri for c in clips], 5, "unit")
    damage(tmp_path / "clips" / f"{plans[0].shard_id}.parquet")
    reader = ShardReader(tmp_path)
    assert sorted(c.clip_id for c in reader.iter_clips()) == sorted(c.clip_id for c in clips[5:])
    assert [p.shard_id for p in reader.damaged_shards()] == [plans[0].shard_id]
    assert reader.shard_ids() == [plans[1].shard_id]
    assert not is_shard_done(location, plans[0].shard_id)
    assert is_shard_done(location, plans[1].shard_id)
    write_shard(location, plans[0], clips[:5], [])  # what re-running the stage does
    assert ShardReader(tmp_path).damaged_shards() == []
    assert len(list(ShardReader(tmp_path).iter_clips())) == len(clips)


def test_an_unreadable_done_marker_is_a_damaged_shard(tmp_path: Path) -> None:
    clips = _write_two_shards(str(tmp_path))
    plans = plan_shards([c.source_uri for c in clips], 5, "unit")
    marker = tmp_path / "_done" / f"{plans[1].shard_id}.json"
    marker.write_text(marker.read_text()[:20])
    reader = ShardReader(tmp_path)
    assert [p.shard_id for p in reader.damaged_shards()] == [plans[1].shard_id]
    assert "unreadable" in reader.damaged_shards()[0].reason
    assert len(list(reader.iter_clips())) == 5
    assert not is_shard_done(open_location(tmp_path), plans[1].shard_id)


def test_the_marker_records_sizes_and_settings(tmp_path: Path) -> None:
    location = open_location(tmp_path)
    plan = ShardPlan("unit-00000-abc", ("a",), settings_json='{"scale":1.0}')
    stats = write_shard(location, plan, _clips(2), [])
    assert (
        stats.table_bytes["clips"] == (tmp_path / "clips" / "unit-00000-abc.parquet").stat().st_size
    )
    assert ShardReader(tmp_path).stats()[0].settings_json == '{"scale":1.0}'


def test_a_shard_of_only_failures(tmp_path: Path) -> None:
    failure = FailureRecord("file:///x.mp4", "unit", "pose", "NotAVideo", "x.mp4: no video stream")
    write_shard(open_location(tmp_path), ShardPlan("only-failures", ("x",)), [], [failure])
    reader = ShardReader(tmp_path)
    assert list(reader.iter_clips()) == [] and reader.failures() == [failure]


def test_a_clips_shard_of_schema_version_1_still_reads(tmp_path: Path) -> None:
    """Clips v2 added `style_original`; a v1 file (without it) reads with nulls there."""
    clips = _clips(3)
    location = open_location(tmp_path)
    plan = ShardPlan("old-00000-abc", ("a",))
    write_shard(location, plan, clips, [])
    path = tmp_path / "clips" / "old-00000-abc.parquet"
    table = pq.read_table(path).drop_columns(["style_original"])
    metadata = dict(table.schema.metadata) | {b"stylemotion.schema_version": b"1"}
    pq.write_table(table.replace_schema_metadata(metadata), path)
    marker = tmp_path / "_done" / "old-00000-abc.json"
    payload = json.loads(marker.read_text())
    payload["table_bytes"]["clips"] = path.stat().st_size
    marker.write_text(json.dumps(payload))
    reader = ShardReader(tmp_path)
    assert reader.damaged_shards() == []
    assert [c.style_original for c in reader.iter_clips()] == [None] * 3
    assert reader.read_shard("clips", plan.shard_id, ["clip_id", "style_original"]).num_rows == 3


def test_split_rule_holds_out_contents_takes_and_a_hashed_share() -> None:
    from storage.splits import SplitRule, SplitRuleError

    rule = SplitRule(("guide",), (("walk", "002"),), val_fraction=0.1, test_fraction=0.2)
    ids = [f"{i:08x}" for i in range(0, 16**8, 16**8 // 1000)]
    splits = [rule.split_of(clip_id, "walk", "001").value for clip_id in ids]
    assert 0.15 < splits.count("test") / len(ids) < 0.25
    assert 0.05 < splits.count("val") / len(ids) < 0.15
    assert rule.split_of(ids[0], "guide", "001").value == "test"
    assert rule.split_of(ids[0], "walk", "002").value == "test"
    with pytest.raises(SplitRuleError, match="below 1"):
        SplitRule(val_fraction=0.5, test_fraction=0.5)
