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

from extract.mocap.ingest import (
    STAGE,
    MocapIngestConfig,
    finish_mocap_ingest,
    plan_mocap_ingest,
    run_mocap_shard,
)
from flows.artifacts import publish_dataset_summary, publish_item_failures, publish_shard_failures
from flows.fanout import gather_shards, raise_if_shards_failed, sum_stats
from flows.task_runners import task_runner_from_environment
from flows.validation import ParameterError, check_mocap
from storage.errors import UserInputError

ingest_shard_task = task(
    run_mocap_shard,
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
    try:
        job = plan_mocap_ingest(config)  # the same driver as `stylemotion ingest-mocap`
    except UserInputError as error:
        raise ParameterError(f"config: {error}") from error
    if job.label_warning:
        get_run_logger().warning("%s", job.label_warning)
    futures = {plan.shard_id: ingest_shard_task.submit(config, plan) for plan in job.pending}
    finished, failed = gather_shards(futures)
    totals = sum_stats(finished.values(), ("clips", "frames", "failures"))
    totals |= {"shards_written": len(finished), "shards_skipped": len(job.plans) - len(futures)}
    totals["shards_failed"] = len(failed)
    totals["shards_superseded"] = finish_mocap_ingest(job, bool(failed))
    title = f"ingest-mocap {config.dataset_name}"
    publish_dataset_summary(config.out_root, title, key="ingest-mocap-summary")
    publish_item_failures(config.out_root, key="ingest-mocap-failures", stages=(STAGE,))
    publish_shard_failures(failed, key="ingest-mocap-failed-shards")
    get_run_logger().info("ingest-mocap %s: %s", config.dataset_name, totals)
    raise_if_shards_failed("ingest-mocap", failed, len(finished))
    return totals
