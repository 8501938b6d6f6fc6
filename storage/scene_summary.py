"""Scene labels in numbers, per labeller: the scene part of `stylemotion inspect` and the report
of `stylemotion label-scenes`.

Reads only the small columns of the scenes table (never embeddings or keyframe images) and the
failures of the scenes shards.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from storage.scene_records import UNKNOWN_SCENE
from storage.scene_schema import SCENE_LABEL_COLUMNS, parse_scene_shard_id
from storage.schema import FAILURES_TABLE
from storage.shard_reader import ShardReader


@dataclass(frozen=True)
class LabellerSummary:
    """What one labeller (models + settings) said about the clips it saw."""

    labeller_id: str
    clip_model: str | None
    caption_model: str | None
    clips: int
    labels: dict[str, int]
    caption_labels: dict[str, int]
    unknown_rate: float
    keyframes_from_store: int


def _histogram(values: list[str | None]) -> dict[str, int]:
    counts = Counter(value for value in values if value is not None)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def summarise_scenes(reader: ShardReader) -> list[LabellerSummary]:
    """One summary per labeller found in the scenes table, ordered by labeller id."""
    rows = reader.scenes(columns=SCENE_LABEL_COLUMNS).to_pylist()
    by_labeller: dict[str, list[dict]] = {}
    for row in rows:
        by_labeller.setdefault(row["labeller_id"], []).append(row)
    summaries = []
    for labeller_id, group in sorted(by_labeller.items()):
        labels = [row["label"] for row in group]
        labelled = [label for label in labels if label is not None]
        unknown = sum(label == UNKNOWN_SCENE for label in labelled)
        summaries.append(
            LabellerSummary(
                labeller_id=labeller_id,
                clip_model=group[0]["clip_model_id"],
                caption_model=group[0]["caption_model_id"],
                clips=len(group),
                labels=_histogram(labels),
                caption_labels=_histogram([row["caption_label"] for row in group]),
                unknown_rate=round(unknown / len(labelled), 4) if labelled else 0.0,
                keyframes_from_store=sum(row["keyframe_source"] == "stored" for row in group),
            )
        )
    return summaries


def scene_failures_by_kind(reader: ShardReader, labeller_id: str | None = None) -> dict[str, int]:
    """Clips skipped (black frames, video gone, ...) by reason, of one labeller or all."""
    kinds: list[str | None] = []
    for shard_id in reader.shard_ids(FAILURES_TABLE):
        parsed = parse_scene_shard_id(shard_id)
        if parsed is None or (labeller_id is not None and parsed[0] != labeller_id):
            continue
        table = reader.read_shard(FAILURES_TABLE, shard_id, columns=["error_kind"])
        kinds.extend(table["error_kind"].to_pylist())
    return _histogram(kinds)


def format_scene_summary(summaries: list[LabellerSummary], skipped: dict[str, int]) -> str:
    """Human-readable: one block per labeller with its label histogram and unknown rate."""
    lines = [f"scene labellers: {len(summaries)}"]
    for summary in summaries:
        lines.append(
            f"  labeller {summary.labeller_id}: {summary.clips} clips, "
            f"unknown rate {summary.unknown_rate:.1%}, "
            f"{summary.keyframes_from_store} from stored keyframes"
        )
        lines.append(f"    clip model: {summary.clip_model or '(off)'}")
        lines.append(f"    caption model: {summary.caption_model or '(off)'}")
        blocks = (("labels", summary.labels), ("caption labels", summary.caption_labels))
        for title, counts in blocks:
            if counts:
                lines.append(f"    {title}:")
                lines.extend(f"      {name:<22} {count}" for name, count in counts.items())
    lines.append(f"scene skips: {sum(skipped.values())}")
    lines.extend(f"  {kind:<24} {count}" for kind, count in skipped.items())
    return "\n".join(lines)
