"""`crawl-and-extract` on real footage under the session's Prefect server, and bad parameters.

Local inputs: a short real dance, a 5-frame street clip and a file that is not a video. The bad
file becomes a failed row with its reason and the flow still completes; a re-run finds every
shard done. Invalid parameters are refused at the flow boundary with a message naming them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from extract.crawl.config import CrawlConfig
from extract.mocap.ingest import MocapIngestConfig
from extract.video.ingest import VideoExtractConfig
from flows.crawl_flows import crawl_and_extract_flow
from flows.crawl_params import CrawlExtractConfig
from flows.mocap_flows import ingest_mocap_flow
from flows.pipeline_flows import pipeline_flow
from flows.sample_config import sample_pipeline_config
from flows.validation import ParameterError
from storage.shard_reader import ShardReader


def video_config(root: Path, inputs: list[Path], **changes) -> CrawlExtractConfig:
    config = CrawlExtractConfig(
        crawl=CrawlConfig(out_root=str(root), sleep_interval_s=0.0, max_sleep_interval_s=0.0),
        extract=VideoExtractConfig(root=str(root), videos_per_shard=1),
        inputs=tuple(str(path) for path in inputs),
        style="energetic",
        preview_dir=str(root.parent / "previews"),
    )
    return replace(config, **changes)


def _artifact_keys() -> set[str]:
    with get_client(sync_client=True) as client:
        return {artifact.key for artifact in client.read_artifacts() if artifact.key}


def test_one_bad_video_never_fails_the_flow_and_rerun_skips(
    prefect_server, sample_videos: Path, pose_model: Path, tmp_path: Path
) -> None:
    root = tmp_path / "dataset"
    config = video_config(root, [sample_videos])
    first = crawl_and_extract_flow(config)
    assert first["videos_ok"] == 2 and first["videos_failed"] == 1
    assert first["pose_shards_written"] == 2 and first["clips"] >= 1
    assert first["shards_failed"] == 0 and first["item_failures"] >= 1
    reader = ShardReader(root)
    assert {clip.style for clip in reader.iter_clips()} == {"energetic"}
    assert list((tmp_path / "previews").glob("preview-*.mp4"))
    assert {"crawl-and-extract-summary", "crawl-and-extract-failures"} <= _artifact_keys()
    with get_client(sync_client=True) as client:  # downloads go through a concurrency limit
        limit = client.read_global_concurrency_limit_by_name(config.download_limit_name)
    assert limit.limit == config.max_parallel_downloads == 2
    again = crawl_and_extract_flow(config)
    assert again["crawl_shards_written"] == again["pose_shards_written"] == 0
    assert again["clip_shards_written"] == 0 and again["crawl_shards_skipped"] == 1


def test_invalid_parameters_are_refused_with_a_readable_message(
    prefect_server, sample_videos: Path, shared_data: Path, tmp_path: Path
) -> None:
    root = tmp_path / "dataset"
    with pytest.raises(ParameterError, match=r"config.styles_file: .*no-such-styles.yaml"):
        crawl_and_extract_flow(
            video_config(root, [], styles_file=str(tmp_path / "no-such-styles.yaml"))
        )
    with pytest.raises(ParameterError, match=r"config: .*missing-data: not a readable directory"):
        ingest_mocap_flow(MocapIngestConfig(str(tmp_path / "missing-data"), str(root)))
    negative = replace(VideoExtractConfig(root=str(root)), videos_per_shard=-1)
    with pytest.raises(ParameterError, match=r"config.extract.videos_per_shard: must be >= 1"):
        crawl_and_extract_flow(video_config(root, [sample_videos], extract=negative))
    pipeline = sample_pipeline_config(shared_data, tmp_path / "out", steps=3)
    bad_steps = replace(pipeline, train=replace(pipeline.train, steps=-5))
    with pytest.raises(ParameterError, match=r"config.train.steps: must be >= 1, got -5"):
        pipeline_flow(bad_steps)
    assert not root.exists()  # refused before any work
