"""The task runner is a setting: parsing it, and a real run on a Dask `LocalCluster`.

The Dask run is `crawl-and-extract` on real footage with one video per pose shard, so the
MediaPipe shards run in the cluster's worker processes (not threads of the flow's process).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def bare_dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A real `dask scheduler` + `dask worker` whose environment holds no stylemotion setting."""
    port, bin_dir = _free_port(), Path(sys.executable).parent
    bare = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    address = f"tcp://127.0.0.1:{port}"
    common = {"env": bare, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--no-dashboard"], **common,
    )  # fmt: skip
    worker = subprocess.Popen(
        [str(bin_dir / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1",
         "--no-dashboard"], **common,
    )  # fmt: skip
    try:
        yield address
    finally:
        for process in (worker, scheduler):
            process.send_signal(signal.SIGINT)
        for process in (worker, scheduler):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_settings_travel_to_workers_with_an_empty_environment(
    prefect_server, sample_videos: Path, pose_model: Path, tmp_path: Path, bare_dask_cluster: str
) -> None:
    """Only the flow's process has STYLEMOTION_POSE_MODEL: the resolved path rides in the config."""
    runner = DaskTaskRunner(address=bare_dask_cluster)
    root = tmp_path / "dataset"
    flow = crawl_and_extract_flow.with_options(task_runner=runner)
    result = flow(video_config(root, [sample_videos / "dance.mp4"]))
    assert result["pose_shards_written"] == 1 and result["shards_failed"] == 0
    assert result["clips"] >= 1


def test_a_missing_pose_model_fails_the_run_once(
    prefect_server, sample_videos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STYLEMOTION_POSE_MODEL", str(tmp_path / "no-such-model.task"))
    root = tmp_path / "dataset"
    videos = [sample_videos / "dance.mp4", sample_videos / "street.mp4"]
    state = crawl_and_extract_flow(video_config(root, videos), return_state=True)
    assert state.is_failed()
    assert "config.extract.pose.model_path" in state.message and "no-such-model" in state.message
    assert ShardReader(root).shard_ids("poses") == []  # no pose shard was tried and failed
