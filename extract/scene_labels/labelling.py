"""Scene labelling of a dataset root: one scenes shard per clip shard and labeller, resumable.

Owns the stage behind `stylemotion label-scenes` and the `label-scenes` flow. Design: scene
labels live in their own `scenes` table keyed by (clip_id, labeller_id), not in new columns of
the clips table, because clip shards are the expensive, shared product of extraction and must
never be rewritten to add a label: a label run writes `scenes-<labeller id>-<clip shard id>`
beside each clip shard (temp -> rename -> done-marker, like every shard), so re-runs skip done
shards, a second model's labels sit beside the first's (`replace` removes the others), and
`ShardReader.labels_with_scenes` joins them back onto clip rows. Scene shards whose clip shard
is gone (superseded by re-canonicalisation) are removed at the end of every run.

`label_scene_shard(config, clip_shard_id)` is the unit of work (a Prefect task wraps it);
`label_scenes(config)` plans, runs every pending shard with a progress bar, cleans up and
returns a `SceneLabelSummary`. Only video clips are labelled: mocap clips have no images.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import pyarrow.compute as pc
from tqdm import tqdm

from extract.scene_labels.inputs import gather_keyframes
from extract.scene_labels.label_config import (
    SceneConfigError,
    SceneLabelConfig,
    resolve_scene_config,
)
from extract.scene_labels.labeller import load_scene_labeller
from storage.filesystem import open_location
from storage.records import SourceKind
from storage.scene_records import UNKNOWN_SCENE
from storage.scene_schema import parse_scene_shard_id, scene_shard_id, scenes_to_table
from storage.scene_summary import scene_failures_by_kind, summarise_scenes
from storage.schema import (
    CLIP_LABEL_COLUMNS,
    CLIPS_TABLE,
    FAILURES_TABLE,
    SCENES_TABLE,
    failures_to_table,
)
from storage.shard_reader import ShardReader
from storage.shard_writer import ShardPlan, is_shard_done, remove_shard, write_table_shard

__all__ = [
    "SceneConfigError",
    "SceneLabelConfig",
    "SceneLabelSummary",
    "label_scene_shard",
    "label_scenes",
    "plan_scene_labelling",
    "finish_scene_labelling",
]

logger = logging.getLogger(__name__)


@dataclass
class SceneLabelSummary:
    """What a run did, and what this labeller's labels look like over the whole dataset."""

    labeller_id: str
    clip_shards: int = 0
    shards_written: int = 0
    shards_skipped: int = 0
    shards_removed: int = 0
    clips_labelled: int = 0
    clips_skipped: int = 0
    labels: dict[str, int] = field(default_factory=dict)
    unknown_rate: float = 0.0
    skipped_by_kind: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ScenePlan:
    """The resolved settings, the labeller id and the clip shards still to label."""

    config: SceneLabelConfig
    labeller_id: str
    clip_shards: tuple[str, ...]
    pending: tuple[str, ...]


def video_clip_shards(reader: ShardReader) -> list[str]:
    """Finished clip shards holding at least one video clip."""
    shards = []
    for shard_id in reader.shard_ids(CLIPS_TABLE):
        kinds = reader.read_shard(CLIPS_TABLE, shard_id, columns=["source_kind"])["source_kind"]
        if pc.any(pc.equal(kinds, SourceKind.VIDEO.value)).as_py():
            shards.append(shard_id)
    return shards


def plan_scene_labelling(config: SceneLabelConfig) -> ScenePlan:
    """Resolve settings, load the models (to know the labeller id) and find pending shards."""
    resolved = resolve_scene_config(config)
    labeller = load_scene_labeller(resolved)
    location = open_location(resolved.root)
    clip_shards = video_clip_shards(ShardReader(location))
    pending = [
        shard
        for shard in clip_shards
        if not is_shard_done(location, scene_shard_id(labeller.labeller_id, shard))
    ]
    return ScenePlan(resolved, labeller.labeller_id, tuple(clip_shards), tuple(pending))


def label_scene_shard(config: SceneLabelConfig, clip_shard_id: str) -> dict[str, int]:
    """Label the video clips of one clip shard and write their scenes shard; small counts.

    Idempotent: a shard already done for this labeller is left alone.
    """
    config = resolve_scene_config(config)
    labeller = load_scene_labeller(config)
    location = open_location(config.root)
    shard_id = scene_shard_id(labeller.labeller_id, clip_shard_id)
    if is_shard_done(location, shard_id):
        return {"labelled": 0, "skipped": 0, "unknown": 0, "already_done": 1}
    reader = ShardReader(location)
    rows = reader.read_shard(CLIPS_TABLE, clip_shard_id, columns=CLIP_LABEL_COLUMNS)
    rows = rows.filter(pc.field("source_kind") == SourceKind.VIDEO.value).to_pylist()
    gathered, failures = gather_keyframes(
        reader, rows, config.num_keyframes, config.keyframe_long_side
    )
    labels, skipped = labeller.label_clips(gathered)
    failures += skipped
    plan = ShardPlan(shard_id, tuple(sorted(row["clip_id"] for row in rows)))
    tables = {SCENES_TABLE: scenes_to_table(labels), FAILURES_TABLE: failures_to_table(failures)}
    num_keyframes = sum(len(label.keyframe_times_s) for label in labels)
    write_table_shard(location, plan, tables, num_keyframes)
    for failure in failures:
        logger.warning("scene skipped [%s] %s", failure.error_kind, failure.message)
    unknown = sum(label.label == UNKNOWN_SCENE for label in labels)
    return {"labelled": len(labels), "skipped": len(failures), "unknown": unknown} | {
        "already_done": 0
    }


def finish_scene_labelling(plan: ScenePlan) -> int:
    """Remove orphaned scene shards (clip shard gone) and, with `replace`, other labellers'."""
    location = open_location(plan.config.root)
    reader = ShardReader(location)
    # A damaged clip shard is still there (its stage rewrites it): its labels are not orphans.
    clip_shards = set(reader.shard_ids(CLIPS_TABLE)) | {p.shard_id for p in reader.damaged_shards()}
    removed = 0
    for shard_id in ShardReader(location).shard_ids():
        parsed = parse_scene_shard_id(shard_id)
        if parsed is None:
            continue
        labeller_id, clip_shard_id = parsed
        other = plan.config.replace and labeller_id != plan.labeller_id
        if other or clip_shard_id not in clip_shards:
            remove_shard(location, shard_id)
            removed += 1
    return removed


def summarise_labeller(plan: ScenePlan, results: list[dict[str, int]]) -> SceneLabelSummary:
    reader = ShardReader(plan.config.root)
    mine = [s for s in summarise_scenes(reader) if s.labeller_id == plan.labeller_id]
    return SceneLabelSummary(
        labeller_id=plan.labeller_id,
        clip_shards=len(plan.clip_shards),
        shards_written=sum(1 for r in results if not r["already_done"]),
        shards_skipped=len(plan.clip_shards) - len(plan.pending),
        clips_labelled=sum(r["labelled"] for r in results),
        clips_skipped=sum(r["skipped"] for r in results),
        labels=mine[0].labels if mine else {},
        unknown_rate=mine[0].unknown_rate if mine else 0.0,
        skipped_by_kind=scene_failures_by_kind(reader, plan.labeller_id),
    )


def label_scenes(config: SceneLabelConfig, show_progress: bool = False) -> SceneLabelSummary:
    """Label every video clip of `config.root` not yet labelled by this labeller."""
    plan = plan_scene_labelling(config)
    results: list[dict[str, int]] = []
    totals: Counter = Counter()
    progress = tqdm(
        total=len(plan.pending), unit="shard", desc="label-scenes", disable=not show_progress
    )
    for clip_shard_id in plan.pending:
        results.append(label_scene_shard(plan.config, clip_shard_id))
        totals.update(results[-1])
        progress.set_postfix(labelled=totals["labelled"], skipped=totals["skipped"], refresh=False)
        progress.update(1)
    progress.close()
    summary = summarise_labeller(plan, results)
    summary.shards_removed = finish_scene_labelling(plan)
    return summary
