"""Prefect flow `label-scenes`: scene labels for every video clip shard, one task per shard.

Composes `extract.scene_labels.labelling`: the flow resolves the settings and loads the models once
(to know the labeller id), submits one task per clip shard this labeller has not labelled yet
(tasks pass the config and a shard id, never arrays; in a thread runner they share the loaded
models), then removes orphaned or replaced scene shards and publishes a markdown summary
artifact. Correctness comes from the scenes shards' done-markers, not from Prefect's cache.
"""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from extract.scene_labels.labelling import (
    SceneLabelConfig,
    finish_scene_labelling,
    label_scene_shard,
    plan_scene_labelling,
)
from storage.scene_summary import format_scene_summary, scene_failures_by_kind, summarise_scenes
from storage.shard_reader import ShardReader

label_scene_shard_task = task(
    label_scene_shard, name="label-scene-shard", retries=2, retry_delay_seconds=5, tags=["cpu"]
)


@flow(name="label-scenes")
def label_scenes_flow(config: SceneLabelConfig) -> dict[str, int]:
    """Label every video clip of `config.root` not yet labelled; returns counts of this run."""
    plan = plan_scene_labelling(config)
    futures = [label_scene_shard_task.submit(plan.config, shard) for shard in plan.pending]
    results = [future.result() for future in futures]
    totals = {key: sum(r[key] for r in results) for key in ("labelled", "skipped", "unknown")}
    totals |= {
        "shards_written": len(plan.pending),
        "shards_skipped": len(plan.clip_shards) - len(plan.pending),
        "shards_removed": finish_scene_labelling(plan),
    }
    reader = ShardReader(plan.config.root)
    report = format_scene_summary(summarise_scenes(reader), scene_failures_by_kind(reader))
    create_markdown_artifact(
        f"## label-scenes (labeller {plan.labeller_id})\n\n```\n{report}\n```",
        key="label-scenes-summary",
    )
    return totals
