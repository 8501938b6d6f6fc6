"""Videos and poses tables: record checks and write/read round trips through shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from storage.filesystem import open_location
from storage.records import RecordError, make_clip_id
from storage.schema import POSES_TABLE, VIDEOS_TABLE
from storage.shard_reader import ShardReader
from storage.shard_writer import ShardPlan, write_table_shard
from storage.video_records import PoseTrack, VideoRecord
from storage.video_schema import table_to_tracks, table_to_videos, tracks_to_table, videos_to_table


def _track(index: int, num_frames: int) -> PoseTrack:
    rng = np.random.default_rng(index)
    detected = rng.random(num_frames) > 0.2
    world = rng.normal(size=(num_frames, 33, 3)).astype(np.float32) * detected[:, None, None]
    return PoseTrack(
        track_id=make_clip_id("pose", index),
        video_id="v1",
        shot_index=index,
        track_index=0,
        start_frame=10 * index,
        fps=30.0,
        width=640,
        height=360,
        world_landmarks=world,
        image_landmarks=np.abs(world) / 4,
        visibility=np.full((num_frames, 33), 0.9, np.float32),
        presence=np.full((num_frames, 33), 0.8, np.float32),
        detected=detected,
        model_name="pose_landmarker_full",
        model_sha256="67bf",
        extractor_version="1",
    )


def _videos() -> list[VideoRecord]:
    ok = VideoRecord(
        video_id="v1",
        source_url="http://127.0.0.1/a.mp4",
        source_kind="url",
        status="ok",
        fetched_at="2026-11-24T00:00:00+00:00",
        style="angry",
        query=None,
        fps=29.97,
        width=812,
        height=720,
        size_bytes=10,
        sha256="ab",
        media_path="media/v1.mp4",
        title="标题",
    )
    failed = VideoRecord(
        video_id="v2",
        source_url="ytsearch5:angry walk",
        source_kind="search",
        status="failed",
        fetched_at="2026-11-24T00:00:00+00:00",
        style="angry",
        query="angry walk",
        error_kind="SearchUnavailable",
        error_message="ytsearch5:angry walk: offline",
    )
    return [ok, failed]


def test_video_and_pose_round_trip(tmp_path: Path) -> None:
    location = open_location(tmp_path)
    tracks = [_track(0, 17), _track(1, 5)]
    tables = {VIDEOS_TABLE: videos_to_table(_videos()), POSES_TABLE: tracks_to_table(tracks)}
    write_table_shard(location, ShardPlan("vid-0", ("a",)), tables, num_frames=22)
    reader = ShardReader(tmp_path)
    assert reader.shard_ids(POSES_TABLE) == ["vid-0"] and reader.shard_ids("clips") == []
    videos = table_to_videos(reader.dataset(VIDEOS_TABLE).to_table())
    assert [v.status for v in videos] == ["ok", "failed"] and videos[0].title == "标题"
    restored = list(table_to_tracks(reader.dataset(POSES_TABLE).to_table()))
    for original, again in zip(tracks, restored, strict=True):
        np.testing.assert_array_equal(again.world_landmarks, original.world_landmarks)
        np.testing.assert_array_equal(again.detected, original.detected)
        assert again.start_frame == original.start_frame and again.coverage == original.coverage
    assert reader.stats()[0].rows == {VIDEOS_TABLE: 2, POSES_TABLE: 2}


def test_records_refuse_inconsistent_values() -> None:
    with pytest.raises(RecordError, match="no media_path"):
        VideoRecord(video_id="v", source_url="u", source_kind="url", status="ok", fetched_at="t")
    with pytest.raises(RecordError, match="without error_kind"):
        VideoRecord(
            video_id="v", source_url="u", source_kind="url", status="failed", fetched_at="t"
        )
    with pytest.raises(RecordError, match="world_landmarks"):
        good = _track(0, 4)
        PoseTrack(**{**good.__dict__, "world_landmarks": np.zeros((4, 32, 3), np.float32)})
