"""The `pipeline` flow embedded (no deployment, no worker) on real data, every stage included.

Mocap ingest of the Bandai set, crawl-and-extract of a real dance video, scene labels with a
small randomly initialised CLIP saved like real weights (the real loading path), a few training
steps of a tiny encoder in this process and its evaluation; then the artifacts of the run. A
second run without a scene model reports the label step as skipped and finds the shards done.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from flows.pipeline_flows import pipeline_flow
from flows.sample_config import sample_pipeline_config
from storage.shard_reader import ShardReader
from storage.summary import summarise_dataset
from tests.extract.scene_models import save_tiny_open_clip


def _artifact_keys() -> set[str]:
    with get_client(sync_client=True) as client:
        return {artifact.key for artifact in client.read_artifacts() if artifact.key}


def _run_log_sources() -> set[str]:
    """Top-level names of the loggers with records in the server's run logs."""
    names: set[str] = set()
    with get_client(sync_client=True) as client:
        for offset in range(0, 20_000, 200):
            logs = client.read_logs(limit=200, offset=offset)
            names.update(log.name.split(".")[0] for log in logs)
            if len(logs) < 200:
                break
    return names


@pytest.mark.slow
def test_pipeline_runs_every_stage_embedded(
    prefect_server,
    shared_data: Path,
    pose_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STYLEMOTION_SCENE_MODEL", raising=False)
    clip_dir = save_tiny_open_clip(tmp_path / "clip")
    config = sample_pipeline_config(shared_data, tmp_path / "out", steps=3, tiny_model=True)
    dance = str(shared_data / "video/footskate_reducer/dance.mp4")
    config = replace(
        config, videos=replace(config.videos, inputs=(dance,)), scene_model=str(clip_dir)
    )
    outcome = pipeline_flow(config)
    assert outcome["mocap"]["clips"] == 174 + 671 and outcome["videos"]["clips"] >= 1
    assert outcome["mocap"]["datasets"]["bandai_namco_2"]["clips"] == 671
    assert outcome["scenes"]["labelled"] == outcome["videos"]["clips"]
    assert outcome["training"]["via"] == "in-process" and outcome["training"]["step"] == 3
    assert "style_knn_top1" in outcome["training"] and Path(outcome["preview"]).is_file()
    report = summarise_dataset(ShardReader(config.root))
    assert report.clips == report.unique_clip_ids == 174 + 671 + outcome["videos"]["clips"]
    assert report.datasets["bandai_namco_2"] == 671 and "elderly" not in report.styles
    assert "energetic" in report.styles
    expected = {
        "pipeline-summary",
        "pipeline-preview",
        "ingest-mocap-summary",
        "crawl-and-extract-summary",
        "label-scenes-summary",
        "train-encoders-metrics",
        "train-encoders-evaluation",
    }
    assert expected <= _artifact_keys()
    assert "models" in _run_log_sources()  # library loggers (warnings here) reach the run logs
    again = pipeline_flow(replace(config, scene_model=None, videos=None, train=None))
    assert "STYLEMOTION_SCENE_MODEL" in again["scenes"]["skipped"]
    assert again["mocap"]["shards_written"] == 0
