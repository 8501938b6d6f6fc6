"""Crawled videos -> raw pose tracks -> canonical clips, in resumable shards.

Owns the two stages after the crawl. `extract_pending_poses`: every video with an `ok` row in
the videos table and no finished pose shard is planned into pose shards (ids from the sorted
pending video ids, prefix `pose`); each shard runs MediaPipe on its videos (`extract.video.pose`)
and writes the `poses` table plus one failure per video that could not be read or kept no track
(too short, nobody in it). Pose extraction is the expensive step, so shards run in worker
processes (`workers`), never threads. `derive_pending_clips`: every finished pose shard gets
one clip shard (`vclips-<config hash>-<pose shard id>`) made by `extract.video.pose_clips` from its
tracks; the hash of the canonicalisation settings is in the id, so changing a setting
re-derives the clips (cheap) without re-running the pose model. The clip shards of other
settings are removed only once every pose shard has its clip shard under the current ones
(`remove_superseded_clip_shards`), so a failed re-derivation never leaves a video without clips.

One driver per stage for the command line and the flow: `plan_pose_extraction` (the pending
pose shards, the pose model resolved once where the run starts) and `run_pose_shard`;
`plan_clip_derivation`, `run_clip_shard` and `finish_clip_derivation` (superseded clip shards go
only when no shard failed). `extract_pending_poses` and `derive_pending_clips` are the command
line's loops over them; the flow maps the per-shard functions over the plans as tasks.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context

import pyarrow.compute as pc
from tqdm import tqdm

from extract.video.local_media import local_media_file
from extract.video.pose import PoseConfig, extract_video_poses
from extract.video.pose_clips import CanonicaliseConfig, track_to_clips
from extract.video.pose_model import resolve_pose_model
from extract.video.probe import VideoError
from storage.errors import cut_message
from storage.filesystem import Location, open_location
from storage.records import FailureRecord, MotionClip
from storage.schema import FAILURES_TABLE, POSES_TABLE, VIDEOS_TABLE, failures_to_table
from storage.shard_reader import ShardReader
from storage.shard_writer import (
    ShardPlan,
    is_shard_done,
    plan_shards,
    remove_shard,
    write_shard,
    write_table_shard,
)
from storage.video_records import PoseTrack, VideoRecord, VideoStatus
from storage.video_schema import table_to_tracks, table_to_videos, tracks_to_table

logger = logging.getLogger(__name__)

POSE_STAGE = "pose"
CLIP_STAGE = "canonicalise"
CLIP_SHARD_PREFIX = "vclips-"


class ClipShardsFailedError(RuntimeError):
    """Some clip shards could not be derived; the others are written, old settings' kept."""


@dataclass(frozen=True)
class VideoExtractConfig:
    """Settings of `stylemotion extract`; also the Prefect flow's parameters."""

    root: str
    dataset: str = "web-video"
    videos_per_shard: int = 2
    workers: int = 1
    pose: PoseConfig = field(default_factory=PoseConfig)
    canonicalise: CanonicaliseConfig = field(default_factory=CanonicaliseConfig)


@dataclass
class ExtractSummary:
    videos_pending: int = 0
    pose_shards_written: int = 0
    tracks: int = 0
    pose_frames: int = 0
    clip_shards_written: int = 0
    clip_shards_superseded: int = 0
    clips: int = 0
    clip_frames: int = 0
    failures_by_kind: Counter = field(default_factory=Counter)


def ok_videos(reader: ShardReader) -> dict[str, VideoRecord]:
    """The fetched videos of the dataset by id (the latest row wins for a re-crawled id)."""
    if not reader.shard_ids(VIDEOS_TABLE):
        return {}
    table = reader.dataset(VIDEOS_TABLE).to_table(filter=pc.field("status") == VideoStatus.OK.value)
    return {video.video_id: video for video in table_to_videos(table)}


def videos_with_poses(reader: ShardReader) -> set[str]:
    """Video ids already covered by a finished pose shard (its inputs are video ids)."""
    pose_shards = set(reader.shard_ids(POSES_TABLE))
    return {video_id for s in reader.stats() if s.shard_id in pose_shards for video_id in s.inputs}


def plan_pose_shards(
    videos: dict[str, VideoRecord], reader: ShardReader, videos_per_shard: int
) -> list[ShardPlan]:
    pending = sorted(set(videos) - videos_with_poses(reader))
    return plan_shards(pending, videos_per_shard, POSE_STAGE)


def _video_failure(video: VideoRecord, dataset: str, error: Exception) -> FailureRecord:
    kind = getattr(error, "kind", type(error).__name__)
    return FailureRecord(
        source_uri=video.source_url,
        dataset=dataset,
        stage=POSE_STAGE,
        error_kind=str(kind),
        message=f"video {video.video_id} ({video.source_url}): {error}",
    )


def extract_pose_shard(
    root: str,
    plan: ShardPlan,
    videos: dict[str, VideoRecord],
    pose_config: PoseConfig,
    dataset: str,
) -> dict[str, int]:
    """Run the pose model on one shard's videos and write it; returns small stats.

    Runs in a worker process: it takes and returns only ids, paths, configs and counts.
    """
    location = open_location(root)
    tracks: list[PoseTrack] = []
    failures: list[FailureRecord] = []
    for video_id in plan.inputs:
        video = videos[video_id]
        try:
            with local_media_file(location, video.media_path) as path:
                tracks.extend(extract_video_poses(path, video_id, pose_config))
        except (VideoError, OSError) as error:
            logger.warning("pose failed for %s: %s", video_id, error)
            failures.append(_video_failure(video, dataset, error))
    tables = {POSES_TABLE: tracks_to_table(tracks), FAILURES_TABLE: failures_to_table(failures)}
    stats = write_table_shard(location, plan, tables, sum(t.num_frames for t in tracks))
    return {"tracks": len(tracks), "frames": stats.num_frames, "failures": len(failures)}


def with_resolved_pose_model(config: VideoExtractConfig) -> VideoExtractConfig:
    """`config` whose pose model path is resolved here, where the run starts.

    The setting (`STYLEMOTION_POSE_MODEL`, the cache, the download) is read once on the machine
    that starts the run and travels inside the config every shard receives, so a worker (a Dask
    worker started with an empty environment, a process pool) needs only the code and the file.
    A model that cannot be found stops the run once (`PoseModelError`), with its reason, instead
    of failing every pose shard with the same message.
    """
    model = resolve_pose_model(config.pose.model_path)
    return replace(config, pose=replace(config.pose, model_path=str(model)))


@dataclass
class PoseJob:
    """The plan of one pose extraction, shared by the command line and the flow (one driver).

    `config` has its pose model resolved when any shard is pending; `pending` are the pose
    shards of the fetched videos without one; each is `run_pose_shard`. Nothing is superseded.
    """

    config: VideoExtractConfig
    videos: dict[str, VideoRecord]
    pending: list[ShardPlan]


def plan_pose_extraction(config: VideoExtractConfig) -> PoseJob:
    """Plan the pose shards of the videos without poses; resolve the pose model if any."""
    reader = ShardReader(config.root)
    videos = ok_videos(reader)  # read once; each shard is handed its own rows
    pending = plan_pose_shards(videos, reader, config.videos_per_shard)
    if pending:
        config = with_resolved_pose_model(config)
    return PoseJob(config, videos, pending)


def run_pose_shard(
    config: VideoExtractConfig, plan: ShardPlan, videos: dict[str, VideoRecord] | None = None
) -> dict[str, int]:
    """Extract one pose shard (the unit a flow maps over); its counts (tracks, frames, failures).

    `videos` holds at least the shard's rows; without it they are read from the root. Picklable
    arguments only, so it runs in a worker process as well.
    """
    if videos is None:
        videos = ok_videos(ShardReader(config.root))
    rows = {video_id: videos[video_id] for video_id in plan.inputs}
    return extract_pose_shard(config.root, plan, rows, config.pose, config.dataset)


def _run_pose_shards(job: PoseJob) -> Iterator[tuple[ShardPlan, dict[str, int]]]:
    """(plan, stats) per finished shard, in completion order; each shard gets its own rows."""
    config = job.config

    def arguments(plan: ShardPlan) -> tuple:
        rows = {video_id: job.videos[video_id] for video_id in plan.inputs}
        return config, plan, rows

    if config.workers <= 1:
        for plan in job.pending:
            yield plan, run_pose_shard(*arguments(plan))
        return
    # spawn: MediaPipe and ffmpeg pipes do not survive fork well; each worker starts clean.
    with ProcessPoolExecutor(config.workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_pose_shard, *arguments(plan)): plan for plan in job.pending}
        for future in as_completed(futures):
            yield futures[future], future.result()


def extract_pending_poses(
    config: VideoExtractConfig, show_progress: bool = False
) -> ExtractSummary:
    """Pose shards for every fetched video that has none yet."""
    job = plan_pose_extraction(config)
    summary = ExtractSummary(videos_pending=sum(len(p.inputs) for p in job.pending))
    progress = tqdm(
        total=summary.videos_pending, unit="video", desc="pose", disable=not show_progress
    )
    for plan, stats in _run_pose_shards(job):
        summary.pose_shards_written += 1
        summary.tracks += stats["tracks"]
        summary.pose_frames += stats["frames"]
        progress.set_postfix(tracks=summary.tracks, failed=stats["failures"], refresh=False)
        progress.update(len(plan.inputs))
    progress.close()
    return summary


def canonicalise_hash(config: CanonicaliseConfig) -> str:
    payload = json.dumps(asdict(config), sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha1(payload).hexdigest()[:8]


def clip_shard_id(settings_hash: str, pose_shard_id: str) -> str:
    return f"{CLIP_SHARD_PREFIX}{settings_hash}-{pose_shard_id}"


def pose_shards_without_clips(location: Location, settings_hash: str) -> list[str]:
    """Finished pose shards with no finished clip shard under the settings `settings_hash`."""
    return [
        pose_shard_id
        for pose_shard_id in ShardReader(location).shard_ids(POSES_TABLE)
        if not is_shard_done(location, clip_shard_id(settings_hash, pose_shard_id))
    ]


def remove_superseded_clip_shards(location: Location, settings_hash: str) -> int:
    """Delete clip shards of other settings, only if every pose shard has its new clip shard.

    Returns how many were removed: none while a replacement is missing (its old clips stay
    readable; the next run derives it and then removes them).
    """
    missing = pose_shards_without_clips(location, settings_hash)
    if missing:
        logger.warning(
            "%d pose shard(s) have no clips under settings %s yet (first %s): the clip shards "
            "of other settings are kept",
            len(missing),
            settings_hash,
            missing[0],
        )
        return 0
    reader = ShardReader(location)
    finished = set(reader.shard_ids()) | {problem.shard_id for problem in reader.damaged_shards()}
    current = clip_shard_id(settings_hash, "")
    superseded = sorted(
        shard_id
        for shard_id in finished
        if shard_id.startswith(CLIP_SHARD_PREFIX) and not shard_id.startswith(current)
    )
    for shard_id in superseded:
        logger.info("removing superseded clip shard %s", shard_id)
        remove_shard(location, shard_id)
    return len(superseded)


def derive_clip_shard(
    location: Location,
    pose_shard_id: str,
    config: VideoExtractConfig,
    videos: dict[str, VideoRecord],
) -> tuple[int, int, int]:
    """Canonical clips from one pose shard's tracks; returns (clips, frames, failures)."""
    table = ShardReader(location).read_shard(POSES_TABLE, pose_shard_id)
    clips: list[MotionClip] = []
    failures: list[FailureRecord] = []
    for track in table_to_tracks(table):
        video = videos[track.video_id]
        new_clips, new_failures = track_to_clips(
            track,
            style=video.style,
            source_uri=video.source_url,
            dataset=config.dataset,
            licence=video.licence or "",
            config=config.canonicalise,
        )
        clips.extend(new_clips)
        failures.extend(new_failures)
    settings = canonicalise_hash(config.canonicalise)
    plan = ShardPlan(
        clip_shard_id(settings, pose_shard_id), tuple(sorted(table["track_id"].to_pylist()))
    )
    stats = write_shard(location, plan, clips, failures)
    return stats.num_clips, stats.num_frames, stats.num_failures


@dataclass
class ClipJob:
    """The plan of one clip derivation, shared by the command line and the flow (one driver).

    `pending` are the pose shards without a clip shard under the current settings (`settings`,
    their hash); each is `run_clip_shard`; `finish_clip_derivation` then removes the clip shards
    of other settings, only when none failed.
    """

    config: VideoExtractConfig
    location: Location
    settings: str
    pending: list[str]


def plan_clip_derivation(config: VideoExtractConfig) -> ClipJob:
    """The pose shards that still need a clip shard under `config.canonicalise`."""
    location = open_location(config.root)
    settings = canonicalise_hash(config.canonicalise)
    return ClipJob(config, location, settings, pose_shards_without_clips(location, settings))


def run_clip_shard(
    config: VideoExtractConfig,
    pose_shard_id: str,
    videos: dict[str, VideoRecord] | None = None,
) -> dict[str, int]:
    """Derive one clip shard (the unit a flow maps over); its counts.

    `videos` holds at least the shard's rows; without it they are read from the root.
    """
    location = open_location(config.root)
    if videos is None:
        videos = ok_videos(ShardReader(location))
    clips, frames, failures = derive_clip_shard(location, pose_shard_id, config, videos)
    return {"clips": clips, "clip_frames": frames, "segments_dropped": failures}


def finish_clip_derivation(job: ClipJob, any_failed: bool) -> int:
    """Remove superseded clip shards once every pose shard has its new one; how many went."""
    if any_failed:  # outdated clips go only when nothing failed: no video loses its clips
        return 0
    return remove_superseded_clip_shards(job.location, job.settings)


def derive_pending_clips(config: VideoExtractConfig, summary: ExtractSummary) -> ExtractSummary:
    """Clip shards for every pose shard without one under the current settings.

    A shard that fails does not stop the others; the old settings' clip shards are removed only
    when none failed, and `ClipShardsFailedError` then names the failed shards.
    """
    job = plan_clip_derivation(config)
    videos = ok_videos(ShardReader(job.location)) if job.pending else {}
    failed: dict[str, str] = {}
    for pose_shard_id in job.pending:
        try:
            counts = run_clip_shard(config, pose_shard_id, videos)
        except Exception as error:  # reported after the other shards, like the flow's fan-out
            logger.error("clip shard of %s failed: %s", pose_shard_id, error)
            failed[pose_shard_id] = cut_message(f"{type(error).__name__}: {error}")
            continue
        summary.clip_shards_written += 1
        summary.clips += counts["clips"]
        summary.clip_frames += counts["clip_frames"]
    superseded = finish_clip_derivation(job, bool(failed))
    if failed:
        listing = "; ".join(f"{shard}: {reason}" for shard, reason in failed.items())
        raise ClipShardsFailedError(
            f"{len(failed)} clip shard(s) failed ({summary.clip_shards_written} written; the "
            f"clips of older settings are kept, re-run to redo the failed ones): {listing}"
        )
    summary.clip_shards_superseded += superseded
    return summary


def extract_videos(config: VideoExtractConfig, show_progress: bool = False) -> ExtractSummary:
    """Poses for every video not yet extracted, then clips for every pose shard lacking them."""
    summary = extract_pending_poses(config, show_progress)
    derive_pending_clips(config, summary)
    failures = ShardReader(config.root).failures()
    summary.failures_by_kind.update(
        f.error_kind for f in failures if f.stage in (POSE_STAGE, CLIP_STAGE)
    )
    return summary
