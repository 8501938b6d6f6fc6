"""The keyframes of one clip shard's video clips: from the source video, else from the store.

Owns gathering what a labeller looks at, per clip: the keyframe times, the JPEG keyframes
(decoded from the clip's video in the videos table; when that file is gone, the keyframes an
earlier labeller stored in the scenes table), and the tracked person's box on each keyframe
(from the poses table, which outlives the media files). A clip with neither a video nor stored
keyframes becomes a `FailureRecord` (stage `scene`, kind `VideoMissing`); one whose keyframes
cannot be decoded, `NoFrame`. Nothing here needs torch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pyarrow.compute as pc

from extract.scene_labels.keyframes import (
    KeyframeError,
    decode_keyframe,
    encode_jpeg,
    keyframe_times,
    person_box,
)
from extract.video.local_media import local_media_file
from storage.records import FailureRecord
from storage.scene_records import KeyframeSource
from storage.schema import POSES_TABLE, VIDEOS_TABLE
from storage.shard_reader import ShardReader
from storage.video_records import PoseTrack, VideoStatus
from storage.video_schema import table_to_tracks

logger = logging.getLogger(__name__)

SCENE_STAGE = "scene"
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class ClipKeyframes:
    """One clip's keyframes (JPEG, unmasked), their times and the person box on each."""

    clip_id: str
    source_uri: str
    dataset: str
    times_s: tuple[float, ...]
    frames: tuple[bytes, ...]
    boxes: tuple[Box | None, ...]
    source: KeyframeSource


def scene_failure(row: dict, kind: str, message: str) -> FailureRecord:
    return FailureRecord(
        source_uri=row["source_uri"],
        dataset=row["dataset"],
        stage=SCENE_STAGE,
        error_kind=kind,
        message=f"clip {row['clip_id']}: {message}",
    )


def _media_paths(reader: ShardReader, video_ids: set[str]) -> dict[str, str | None]:
    if not video_ids or not reader.shard_ids(VIDEOS_TABLE):
        return {}
    table = reader.dataset(VIDEOS_TABLE).to_table(
        columns=["video_id", "media_path"],
        filter=pc.field("video_id").isin(sorted(video_ids))
        & (pc.field("status") == VideoStatus.OK.value),
    )
    return dict(zip(table["video_id"].to_pylist(), table["media_path"].to_pylist(), strict=True))


def _tracks(reader: ShardReader, track_ids: set[str]) -> dict[str, PoseTrack]:
    if not track_ids or not reader.shard_ids(POSES_TABLE):
        return {}
    table = reader.dataset(POSES_TABLE).to_table(
        filter=pc.field("track_id").isin(sorted(track_ids))
    )
    return {track.track_id: track for track in table_to_tracks(table)}


def stored_keyframes(reader: ShardReader, clip_ids: list[str]) -> dict[str, tuple[list, list]]:
    """(times, JPEG frames) per clip from any labeller's scenes rows that kept keyframes."""
    scenes = reader.scenes(columns=["clip_id", "keyframe_times_s", "keyframes"])
    scenes = scenes.filter(pc.field("clip_id").isin(clip_ids))
    stored: dict[str, tuple[list, list]] = {}
    for row in scenes.to_pylist():
        if row["keyframes"] and row["clip_id"] not in stored:
            stored[row["clip_id"]] = (row["keyframe_times_s"], row["keyframes"])
    return stored


def _decode_from_video(
    reader: ShardReader, media_path: str, times: list[float], long_side: int
) -> tuple[list[float], list[bytes]]:
    """(times, JPEG frames) that decoded; raises FileNotFoundError when the file is gone."""
    kept_times, frames = [], []
    with local_media_file(reader.location, media_path) as path:
        for time_s in times:
            try:
                frames.append(encode_jpeg(decode_keyframe(path, time_s, long_side)))
                kept_times.append(time_s)
            except KeyframeError as error:
                logger.warning("%s", error)
    return kept_times, frames


def gather_keyframes(
    reader: ShardReader, clip_rows: list[dict], num_keyframes: int, long_side: int
) -> tuple[list[ClipKeyframes], list[FailureRecord]]:
    """Keyframes for every clip row (clips-table label columns), or a failure naming why not."""
    media = _media_paths(reader, {r["video_id"] for r in clip_rows if r["video_id"]})
    tracks = _tracks(reader, {r["pose_track_id"] for r in clip_rows if r["pose_track_id"]})
    stored: dict[str, tuple[list, list]] | None = None  # read only if a video is gone
    gathered: list[ClipKeyframes] = []
    failures: list[FailureRecord] = []
    for row in clip_rows:
        times = keyframe_times(row["start_time_s"], row["num_frames"], row["fps"], num_keyframes)
        source = KeyframeSource.VIDEO
        try:
            times, frames = _decode_from_video(reader, media.get(row["video_id"]), times, long_side)
        except FileNotFoundError as error:
            stored = stored if stored is not None else stored_keyframes(reader, _ids(clip_rows))
            if row["clip_id"] not in stored:
                failures.append(
                    scene_failure(row, "VideoMissing", f"{error}; no stored keyframes either")
                )
                continue
            times, frames = stored[row["clip_id"]]
            source = KeyframeSource.STORED
        if not frames:
            failures.append(scene_failure(row, "NoFrame", "no keyframe could be decoded"))
            continue
        track = tracks.get(row["pose_track_id"])
        boxes = tuple(person_box(track, t) if track else None for t in times)
        gathered.append(
            ClipKeyframes(
                row["clip_id"],
                row["source_uri"],
                row["dataset"],
                tuple(times),
                tuple(frames),
                boxes,
                source,
            )  # fmt: skip
        )
    return gathered, failures


def _ids(rows: list[dict]) -> list[str]:
    return [row["clip_id"] for row in rows]
