"""What a dataset holds, in numbers: the report behind `stylemotion inspect`.

Reads only the label columns and the done-markers, never the motion arrays, so it stays fast on
large datasets.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pyarrow.compute as pc

from storage.schema import CLIPS_TABLE, POSES_TABLE, VIDEOS_TABLE
from storage.shard_reader import ShardReader
from storage.skeleton import CANONICAL_FPS


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
    damaged_shards: tuple[str, ...] = ()  # "<shard id>: <reason>", left out of every read
    shard_settings: dict[str, int] | None = None  # settings that shaped shards -> shard count


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
        damaged_shards=tuple(problem.describe() for problem in reader.damaged_shards()),
        shard_settings=_counts([s.settings_json for s in reader.stats() if s.settings_json]),
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
    if summary.damaged_shards:
        lines.append(
            f"WARNING: {len(summary.damaged_shards)} damaged shard(s) left out of every read "
            "(re-run the stage that wrote them to rewrite exactly these):"
        )
        lines.extend(f"  {description}" for description in summary.damaged_shards)
    for settings, count in (summary.shard_settings or {}).items():
        lines.append(f"settings of {count} shard(s): {settings}")
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


@dataclass(frozen=True)
class VideoSummary:
    """The video path in numbers: what the crawl fetched, what pose and cleaning made of it."""

    videos: int
    videos_ok: int
    videos_failed_by_kind: dict[str, int]
    pose_failed_by_kind: dict[str, int]
    segments_dropped_by_kind: dict[str, int]
    tracks: int
    pose_frames: int
    clips: int
    clip_frames: int
    clip_minutes: float


def _video_rows(reader: ShardReader) -> list[dict]:
    if not reader.shard_ids(VIDEOS_TABLE):
        return []
    return reader.dataset(VIDEOS_TABLE).to_table(columns=["status", "error_kind"]).to_pylist()


def summarise_videos(reader: ShardReader) -> VideoSummary:
    """Counts over the videos, poses and video-derived clips tables of a dataset root."""
    rows = _video_rows(reader)
    failures = reader.failures()
    poses = (
        reader.dataset(POSES_TABLE).to_table(columns=["num_frames"])
        if reader.shard_ids(POSES_TABLE)
        else None
    )
    clips = reader.labels() if reader.shard_ids(CLIPS_TABLE) else None
    if clips is not None:
        clips = clips.filter(pc.field("source_kind") == "video")
    clip_frames = int(pc.sum(clips["num_frames"]).as_py() or 0) if clips is not None else 0
    return VideoSummary(
        videos=len(rows),
        videos_ok=sum(row["status"] == "ok" for row in rows),
        videos_failed_by_kind=_counts([r["error_kind"] for r in rows if r["status"] != "ok"]),
        pose_failed_by_kind=_counts([f.error_kind for f in failures if f.stage == "pose"]),
        segments_dropped_by_kind=_counts(
            [f.error_kind for f in failures if f.stage == "canonicalise"]
        ),
        tracks=poses.num_rows if poses is not None else 0,
        pose_frames=int(pc.sum(poses["num_frames"]).as_py() or 0) if poses is not None else 0,
        clips=clips.num_rows if clips is not None else 0,
        clip_frames=clip_frames,
        clip_minutes=round(clip_frames / CANONICAL_FPS / 60.0, 2),
    )


def format_video_summary(summary: VideoSummary) -> str:
    lines = [
        f"videos: {summary.videos} seen, {summary.videos_ok} fetched",
        f"pose: {summary.tracks} tracks, {summary.pose_frames} frames",
        f"clips: {summary.clips}, {summary.clip_frames} frames, {summary.clip_minutes} minutes",
    ]
    for title, counts in (
        ("videos failed (crawl)", summary.videos_failed_by_kind),
        ("videos failed (pose)", summary.pose_failed_by_kind),
        ("segments dropped (cleaning)", summary.segments_dropped_by_kind),
    ):
        lines.append(f"{title}: {sum(counts.values())}")
        lines.extend(f"  {kind:<24} {count}" for kind, count in counts.items())
    return "\n".join(lines)
