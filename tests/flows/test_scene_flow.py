"""The `label-scenes` Prefect flow under a local Prefect test server, on a real sample video."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness

from extract.scene_labels.labelling import SceneLabelConfig
from flows.scene_label_flows import label_scenes_flow
from storage.filesystem import open_location
from storage.records import SourceKind
from storage.schema import VIDEOS_TABLE
from storage.shard_reader import ShardReader
from storage.shard_writer import ShardPlan, write_shard, write_table_shard
from storage.video_records import VideoRecord
from storage.video_schema import videos_to_table
from tests.extract.scene_models import save_tiny_open_clip
from tests.storage.clip_factory import make_clip


@pytest.fixture(scope="module")
def prefect_server():
    with prefect_test_harness(server_startup_timeout=120):
        yield


def _video_dataset(shared_data: Path, root: Path) -> None:
    """Two clip shards of video clips cut from the real dance video (no pose model needed)."""
    (root / "media").mkdir(parents=True)
    shutil.copyfile(shared_data / "video/footskate_reducer/dance.mp4", root / "media/v1.mp4")
    video = VideoRecord(
        video_id="v1",
        source_url="file:///dance.mp4",
        source_kind="local",
        status="ok",
        fetched_at="2026-11-24T00:00:00+00:00",
        media_path="media/v1.mp4",
        sha256="x",
    )
    location = open_location(root)
    write_table_shard(
        location, ShardPlan("crawl-1", ("v1",)), {VIDEOS_TABLE: videos_to_table([video])}, 0
    )
    for index, start in enumerate((0.0, 1.2)):
        clip = replace(make_clip(index, num_frames=30), video_id="v1", start_time_s=start)
        clip = replace(clip, source_kind=SourceKind.VIDEO)
        write_shard(location, ShardPlan(f"vclips-{index}", (clip.clip_id,)), [clip], [])


def test_flow_labels_each_clip_shard_once(prefect_server, shared_data, tmp_path) -> None:
    root = tmp_path / "root"
    _video_dataset(shared_data, root)
    model = save_tiny_open_clip(tmp_path / "clip")
    config = SceneLabelConfig(root=str(root), clip_model=f"local-dir:{model}", captions=False)
    first = label_scenes_flow(config)
    assert first["labelled"] == 2 and first["shards_written"] == 2 and first["skipped"] == 0
    assert ShardReader(root).scenes().num_rows == 2
    again = label_scenes_flow(config)
    assert again["shards_written"] == 0 and again["shards_skipped"] == 2
