"""A shard that keeps failing is retried, then reported with its reason while the others finish.

The failure is real: the final path of one shard's clips file is a directory, so its write
fails with the filesystem's error on every attempt. The other shards complete, the run fails
naming the shard and the reason, and once the obstacle is gone a re-run writes only that shard.
"""

from __future__ import annotations

from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

from extract.mocap.ingest import MocapIngestConfig, MocapIngester, find_mocap_inputs
from flows.mocap_flows import ingest_mocap_flow
from storage.shard_reader import ShardReader
from storage.summary import summarise_dataset


def _attempts_of(task_name: str) -> list[int]:
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=task_name))
        )
    return [run.run_count for run in runs if run.state and run.state.is_failed()]


def test_failing_shard_is_retried_reported_and_redone(
    prefect_server, bandai_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "dataset"
    config = MocapIngestConfig(str(bandai_dir), str(root), shard_size=40)
    plans = MocapIngester(config).plan(find_mocap_inputs(bandai_dir))
    blocked = plans[2].shard_id
    (root / "clips" / f"{blocked}.parquet").mkdir(parents=True)
    state = ingest_mocap_flow(config, return_state=True)
    assert state.is_failed()
    assert blocked in state.message and "shard(s) failed after retries" in state.message
    assert "4 finished" in state.message
    assert sorted(ShardReader(root).shard_ids()) == sorted(
        plan.shard_id for plan in plans if plan.shard_id != blocked
    )
    assert 3 in _attempts_of("ingest-mocap-shard")  # one try and two retries
    (root / "clips" / f"{blocked}.parquet").rmdir()
    again = ingest_mocap_flow(config)
    assert again["shards_written"] == 1 and again["shards_skipped"] == 4
    report = summarise_dataset(ShardReader(root))
    assert report.clips == report.unique_clip_ids == 174
