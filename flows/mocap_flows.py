"""Prefect flow `ingest-mocap`: a mocap directory into clip shards, one task per shard.

Composes `extract.mocap.ingest`: the flow checks its parameters, plans the shards, submits one
task per unfinished shard (tasks pass the config and the shard plan, never arrays), then
removes superseded shards and publishes a markdown summary and a failure table. A bad file is a
failure row and never fails the flow; a shard that keeps failing after its retries is reported
with its reason once the other shards are done, and then fails the run. Correctness comes from
the shards' done-markers, not from Prefect's cache: a re-run skips finished shards whatever
Prefect remembers.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from extract.mocap.dataset_guard import DatasetSourceError, check_dataset_source
from extract.mocap.ingest import (
    STAGE,
    MocapIngestConfig,
    MocapIngester,
    find_mocap_inputs,
    ingest_shard,
    remove_superseded_shards,
)
from flows.artifacts import publish_dataset_summary, publish_item_failures, publish_shard_failures
from flows.fanout import gather_shards, raise_if_shards_failed, sum_stats
from flows.task_runners import task_runner_from_environment
from flows.validation import ParameterError, check_mocap
from storage.filesystem import open_location
from storage.shard_writer import ShardPlan, is_shard_done


def _ingest_one_shard(config: MocapIngestConfig, plan: ShardPlan) -> dict[str, int]:
    clips, frames, failures = ingest_shard(
        MocapIngester(config), open_location(config.out_root), plan
    )
    return {"clips": clips, "frames": frames, "failures": failures}


ingest_shard_task = task(
    _ingest_one_shard,
    name="ingest-mocap-shard",
    retries=2,
    retry_delay_seconds=2,
    timeout_seconds=1800,
    tags=["mocap", "cpu"],
    cache_policy=NO_CACHE,
)


@flow(name="ingest-mocap", task_runner=task_runner_from_environment())
def ingest_mocap_flow(config: MocapIngestConfig) -> dict[str, int]:
    """Ingest every BVH file under `config.src_dir`; returns counts of this run."""
    check_mocap(config)
    ingester = MocapIngester(config)
    location = open_location(config.out_root)
    try:
        check_dataset_source(location, STAGE, config.dataset_name, str(ingester.src_dir))
    except DatasetSourceError as error:
        raise ParameterError(f"config: {error}") from error
    inputs = find_mocap_inputs(ingester.src_dir)
    label_warning = ingester.label_warning(inputs)
    if label_warning:
        get_run_logger().warning("%s", label_warning)
    plans = ingester.plan(inputs)
    pending = [plan for plan in plans if not is_shard_done(location, plan.shard_id)]
    futures = {plan.shard_id: ingest_shard_task.submit(config, plan) for plan in pending}
    finished, failed = gather_shards(futures)
    totals = sum_stats(finished.values(), ("clips", "frames", "failures"))
    totals |= {"shards_written": len(finished), "shards_skipped": len(plans) - len(pending)}
    totals["shards_failed"] = len(failed)
    # Outdated shards go only once every planned shard is done: their clips are never missing.
    superseded = 0 if failed else remove_superseded_shards(location, plans, config.source_prefix)
    totals["shards_superseded"] = superseded
    title = f"ingest-mocap {config.dataset_name}"
    publish_dataset_summary(config.out_root, title, key="ingest-mocap-summary")
    publish_item_failures(config.out_root, key="ingest-mocap-failures", stages=(STAGE,))
    publish_shard_failures(failed, key="ingest-mocap-failed-shards")
    get_run_logger().info("ingest-mocap %s: %s", config.dataset_name, totals)
    raise_if_shards_failed("ingest-mocap", failed, len(finished))
    return totals
