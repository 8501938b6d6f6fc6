"""The task runner is a setting: parsing it, and a real run on a Dask `LocalCluster`.

The Dask run is `crawl-and-extract` on real footage with one video per pose shard, so the
MediaPipe shards run in the cluster's worker processes (not threads of the flow's process).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from flows.crawl_flows import crawl_and_extract_flow
from flows.task_runners import (
    TaskRunnerSetting,
    TaskRunnerSettingError,
    build_task_runner,
    parse_task_runner_setting,
    runs_tasks_in_threads,
)
from storage.shard_reader import ShardReader
from tests.flows.test_crawl_flow import video_config


def test_setting_parses_every_runner() -> None:
    assert parse_task_runner_setting(None) == TaskRunnerSetting("threads")
    assert parse_task_runner_setting("processes", "3") == TaskRunnerSetting("processes", 3)
    assert parse_task_runner_setting("dask://scheduler:8786").dask_address == "tcp://scheduler:8786"
    assert parse_task_runner_setting("tcp://10.0.0.5:8786").kind == "dask"
    with pytest.raises(TaskRunnerSettingError, match="expected threads, processes, dask"):
        parse_task_runner_setting("ray")
    with pytest.raises(TaskRunnerSettingError, match="must be >= 1"):
        parse_task_runner_setting("threads", "0")
    assert isinstance(build_task_runner(TaskRunnerSetting("threads", 2)), ThreadPoolTaskRunner)
    processes = build_task_runner(TaskRunnerSetting("processes", 2))
    assert isinstance(processes, ProcessPoolTaskRunner) and not runs_tasks_in_threads(processes)
    remote = build_task_runner(TaskRunnerSetting("dask", None, "tcp://scheduler:8786"))
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://scheduler:8786"


@pytest.mark.slow
def test_crawl_and_extract_on_a_dask_local_cluster(
    prefect_server, sample_videos: Path, pose_model: Path, tmp_path: Path
) -> None:
    runner = DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": 2,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        },
    )
    root = tmp_path / "dataset"
    result = crawl_and_extract_flow.with_options(task_runner=runner)(
        video_config(root, [sample_videos / "dance.mp4", sample_videos / "street.mp4"])
    )
    assert result["videos_ok"] == 2 and result["pose_shards_written"] == 2
    assert result["shards_failed"] == 0 and result["clips"] >= 1
    assert len(ShardReader(root).shard_ids("poses")) == 2
