"""Prefect flow `ingest-mocap`: a mocap directory into clip shards, one task per shard.

Composes `extract.mocap_ingest`: the flow plans the shards, submits one task per unfinished
shard (tasks pass the config and the shard plan, never arrays), then removes superseded shards
and publishes a markdown summary artifact. Correctness comes from the shards' done-markers, not
from Prefect's cache: a re-run skips finished shards whatever Prefect remembers.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from extract.mocap_ingest import (
    MocapIngestConfig,
    MocapIngester,
    find_mocap_inputs,
    ingest_shard,
    remove_superseded_shards,
)
from storage.filesystem import open_location
from storage.shard_reader import ShardReader
from storage.shard_writer import ShardPlan, is_shard_done, plan_shards
from storage.summary import format_summary, summarise_dataset


def _ingest_one_shard(config: MocapIngestConfig, plan: ShardPlan) -> dict[str, int]:
    clips, frames, failures = ingest_shard(
        MocapIngester(config), open_location(config.out_root), plan
    )
    return {"clips": clips, "frames": frames, "failures": failures}


ingest_shard_task = task(
    _ingest_one_shard, name="ingest-mocap-shard", retries=2, retry_delay_seconds=5, tags=["cpu"]
)


@flow(name="ingest-mocap")
def ingest_mocap_flow(config: MocapIngestConfig) -> dict[str, int]:
    """Ingest every BVH file under `config.src_dir`; returns counts of this run."""
    inputs = find_mocap_inputs(Path(config.src_dir).resolve())
    plans = plan_shards(inputs, config.shard_size, config.shard_prefix)
    location = open_location(config.out_root)
    pending = [plan for plan in plans if not is_shard_done(location, plan.shard_id)]
    futures = [ingest_shard_task.submit(config, plan) for plan in pending]
    results = [future.result() for future in futures]
    superseded = remove_superseded_shards(location, plans, config.shard_prefix)
    totals = {key: sum(r[key] for r in results) for key in ("clips", "frames", "failures")}
    totals |= {"shards_written": len(pending), "shards_skipped": len(plans) - len(pending)}
    totals["shards_superseded"] = superseded
    summary = format_summary(summarise_dataset(ShardReader(config.out_root)))
    create_markdown_artifact(
        f"## ingest-mocap {config.dataset_name}\n\n```\n{summary}\n```", key="ingest-mocap-summary"
    )
    return totals
