"""What a dataset holds, in numbers: the report behind `stylemotion inspect`.

Reads only the label columns and the done-markers, never the motion arrays, so it stays fast on
large datasets.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pyarrow.compute as pc

from storage.shard_reader import ShardReader


@dataclass(frozen=True)
class DatasetSummary:
    root: str
    shards: int
    clips: int
    unique_clip_ids: int
    frames: int
    minutes: float
    styles: dict[str, int]
    contents: dict[str, int]
    datasets: dict[str, int]
    splits: dict[str, int]
    source_kinds: dict[str, int]
    scenes: dict[str, int]
    failures: int
    failures_by_kind: dict[str, int]


def _counts(values: list[object]) -> dict[str, int]:
    counter = Counter("(none)" if value is None else str(value) for value in values)
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


def summarise_dataset(reader: ShardReader) -> DatasetSummary:
    """Counts of clips, frames, minutes and labels over every finished shard."""
    labels = reader.labels()
    failures = reader.failures()
    seconds = pc.sum(pc.divide(pc.cast(labels["num_frames"], "float64"), labels["fps"])).as_py()
    return DatasetSummary(
        root=reader.location.uri,
        shards=len(reader.shard_ids()),
        clips=labels.num_rows,
        unique_clip_ids=len(set(labels["clip_id"].to_pylist())),
        frames=int(pc.sum(labels["num_frames"]).as_py() or 0),
        minutes=round((seconds or 0.0) / 60.0, 3),
        styles=_counts(labels["style"].to_pylist()),
        contents=_counts(labels["content"].to_pylist()),
        datasets=_counts(labels["dataset"].to_pylist()),
        splits=_counts(labels["split"].to_pylist()),
        source_kinds=_counts(labels["source_kind"].to_pylist()),
        scenes=_counts(labels["scene_label"].to_pylist()),
        failures=len(failures),
        failures_by_kind=_counts([failure.error_kind for failure in failures]),
    )


def format_summary(summary: DatasetSummary) -> str:
    """Human-readable report: totals first, then one line per label with its count."""
    lines = [
        f"dataset root: {summary.root}",
        f"shards: {summary.shards}  clips: {summary.clips}  frames: {summary.frames}  "
        f"minutes: {summary.minutes:.1f}  failures: {summary.failures}",
    ]
    if summary.unique_clip_ids != summary.clips:
        lines.append(f"WARNING: {summary.clips - summary.unique_clip_ids} duplicate clip ids")
    for title, counts in (
        ("styles", summary.styles),
        ("contents", summary.contents),
        ("datasets", summary.datasets),
        ("splits", summary.splits),
        ("sources", summary.source_kinds),
        ("scenes", summary.scenes),
        ("failures by kind", summary.failures_by_kind),
    ):
        lines.append(f"{title} ({len(counts)}):")
        lines.extend(f"  {name:<24} {count}" for name, count in counts.items())
    return "\n".join(lines)
