"""Prefect flow `crawl-and-extract`: crawl -> normalise -> pose -> clips, one task per shard.

Composes `extract.crawl.crawl` (one task per crawl shard: a query, a chunk of URLs or local files),
`extract.video.ingest` (one task per pose shard of videos: ffmpeg normalising + MediaPipe,
then one task per pose shard turning its tracks into a clip shard). Tasks pass configs, shard
plans, ids and small stats; arrays go to Parquet. Downloads are limited by a global
concurrency limit (`CrawlExtractConfig.max_parallel_downloads`). Pose extraction runs in
processes whatever the task runner (`flows.pose_processes`). Every stage skips shards with a
done-marker, so a killed run re-run finishes only the missing shards. One bad video is a row
with a reason and never fails the flow; a shard that keeps failing is reported with its reason
after the others finish, and then fails the run. Crawl shards run side by side, so a video two
of them find at once may be fetched twice; pose shards are planned per video id
(`ok_videos` keeps one row per id), so its clips are never duplicated. Clip shards of older
cleaning settings are removed only once every pose shard has its new clip shard.
"""

from __future__ import annotations

from dataclasses import replace

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext

from extract.crawl.config import CrawlConfig
from extract.crawl.crawl import CrawlShard, crawl_shard, plan_crawl
from extract.crawl.session import CrawlSession
from extract.crawl.sources import Source
from extract.video.ingest import (
    VideoExtractConfig,
    canonicalise_hash,
    derive_clip_shard,
    extract_pose_shard,
    ok_videos,
    plan_pose_shards,
    pose_shards_without_clips,
    remove_superseded_clip_shards,
)
from extract.video.pose_model import PoseModelError, resolve_pose_model
from flows.artifacts import (
    publish_dataset_summary,
    publish_item_failures,
    publish_preview,
    publish_shard_failures,
)
from flows.crawl_params import CrawlExtractConfig
from flows.fanout import gather_shards, raise_if_shards_failed, sum_stats
from flows.pose_processes import run_in_pose_process, shutdown_pose_processes
from flows.task_runners import runs_tasks_in_threads, task_runner_from_environment
from flows.validation import ParameterError, check_crawl_extract
from storage.filesystem import open_location
from storage.shard_reader import ClipFilter, ShardReader
from storage.shard_writer import ShardPlan, is_shard_done
from storage.video_records import VideoStatus


def _crawl_one_shard(config: CrawlConfig, shard: CrawlShard, limit_name: str) -> dict[str, int]:
    with concurrency(limit_name, occupy=1), CrawlSession(config) as session:
        records = crawl_shard(session, shard)
        skipped = session.videos_skipped
    ok = sum(record.status is VideoStatus.OK for record in records)
    return {"videos_ok": ok, "videos_failed": len(records) - ok, "videos_skipped": skipped}


def _extract_one_pose_shard(
    config: VideoExtractConfig, plan: ShardPlan, in_pose_process: bool
) -> dict[str, int]:
    videos = ok_videos(ShardReader(config.root))
    rows = {video_id: videos[video_id] for video_id in plan.inputs}
    arguments = (config.root, plan, rows, config.pose, config.dataset)
    if in_pose_process:
        return run_in_pose_process(config.workers, extract_pose_shard, *arguments)
    return extract_pose_shard(*arguments)


def _derive_one_clip_shard(config: VideoExtractConfig, pose_shard_id: str) -> dict[str, int]:
    location = open_location(config.root)
    videos = ok_videos(ShardReader(location))
    clips, frames, failures = derive_clip_shard(location, pose_shard_id, config, videos)
    return {"clips": clips, "clip_frames": frames, "segments_dropped": failures}


crawl_shard_task = task(
    _crawl_one_shard,
    name="crawl-shard",
    retries=2,
    retry_delay_seconds=10,
    timeout_seconds=4 * 3600,
    tags=["download", "cpu"],
    cache_policy=NO_CACHE,
)
pose_shard_task = task(
    _extract_one_pose_shard,
    name="pose-shard",
    retries=2,
    retry_delay_seconds=5,
    timeout_seconds=3 * 3600,
    tags=["pose", "cpu"],
    cache_policy=NO_CACHE,
)
clip_shard_task = task(
    _derive_one_clip_shard,
    name="clip-shard",
    retries=1,
    retry_delay_seconds=2,
    timeout_seconds=1800,
    tags=["cpu"],
    cache_policy=NO_CACHE,
)


def set_download_limit(name: str, limit: int) -> None:
    """Create or update the global concurrency limit every crawl shard takes a slot of."""
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, limit)


def crawl_sources(
    config: CrawlExtractConfig, sources: list[Source]
) -> tuple[dict[str, int], dict[str, str]]:
    """One task per crawl shard without a done-marker; returns counts and failed shards."""
    location = open_location(config.crawl.out_root)
    shards = plan_crawl(sources, config.crawl)
    pending = [s for s in shards if not is_shard_done(location, s.plan.shard_id)]
    if pending:
        set_download_limit(config.download_limit_name, config.max_parallel_downloads)
    futures = {
        s.plan.shard_id: crawl_shard_task.submit(config.crawl, s, config.download_limit_name)
        for s in pending
    }
    finished, failed = gather_shards(futures)
    totals = sum_stats(finished.values(), ("videos_ok", "videos_failed", "videos_skipped"))
    totals["crawl_shards_written"] = len(finished)
    totals["crawl_shards_skipped"] = len(shards) - len(pending)
    return totals, failed


def with_resolved_pose_model(config: VideoExtractConfig) -> VideoExtractConfig:
    """`config` whose pose model path is resolved here, where the flow starts.

    The setting (`STYLEMOTION_POSE_MODEL`, the cache, the download) is read once on the machine
    that starts the flow and travels inside the config every task receives, so a worker (a Dask
    worker started with an empty environment, a process pool) needs only the code and the file.
    A model that cannot be found stops the run once, with its reason, instead of failing every
    pose shard with the same message.
    """
    model = resolve_pose_model(config.pose.model_path)
    return replace(config, pose=replace(config.pose, model_path=str(model)))


def extract_poses(config: VideoExtractConfig) -> tuple[dict[str, int], dict[str, str]]:
    """One task per pose shard of the fetched videos that have none."""
    reader = ShardReader(config.root)
    plans = plan_pose_shards(ok_videos(reader), reader, config.videos_per_shard)
    if plans:
        try:
            config = with_resolved_pose_model(config)
        except PoseModelError as error:
            raise ParameterError(f"config.extract.pose.model_path: {error}") from error
    context = FlowRunContext.get()
    in_threads = runs_tasks_in_threads(context.task_runner if context else None)
    futures = {plan.shard_id: pose_shard_task.submit(config, plan, in_threads) for plan in plans}
    try:
        finished, failed = gather_shards(futures)
    finally:
        shutdown_pose_processes()
    totals = sum_stats(finished.values(), ("tracks", "frames", "failures"))
    return {
        "pose_shards_written": len(finished),
        "tracks": totals["tracks"],
        "pose_frames": totals["frames"],
        "videos_failed_pose": totals["failures"],
    }, failed


def derive_clips(config: VideoExtractConfig) -> tuple[dict[str, int], dict[str, str]]:
    """One task per pose shard without a clip shard under the current cleaning settings; clip
    shards of other settings are removed only once every pose shard has its new clip shard."""
    location = open_location(config.root)
    settings = canonicalise_hash(config.canonicalise)
    pending = pose_shards_without_clips(location, settings)
    futures = {shard: clip_shard_task.submit(config, shard) for shard in pending}
    finished, failed = gather_shards(futures)
    # Outdated clips go only when nothing failed: a video never loses its clips in between.
    superseded = 0 if failed else remove_superseded_clip_shards(location, settings)
    totals = sum_stats(finished.values(), ("clips", "clip_frames", "segments_dropped"))
    totals["clip_shards_written"] = len(finished)
    totals["clip_shards_superseded"] = superseded
    return totals, failed


@flow(name="crawl-and-extract", task_runner=task_runner_from_environment())
def crawl_and_extract_flow(config: CrawlExtractConfig) -> dict[str, int]:
    """Crawl the sources, extract poses and derive clips; returns counts of this run."""
    sources = check_crawl_extract(config)
    logger = get_run_logger()
    logger.info("%d sources into %s", len(sources), config.crawl.out_root)
    crawl_totals, crawl_failed = crawl_sources(config, sources)
    pose_totals, pose_failed = extract_poses(config.extract)
    clip_totals, clip_failed = derive_clips(config.extract)
    failed = crawl_failed | pose_failed | clip_failed
    root = config.extract.root
    publish_dataset_summary(root, "crawl-and-extract", key="crawl-and-extract-summary")
    item_failures = publish_item_failures(
        root, key="crawl-and-extract-failures", stages=("crawl", "pose", "canonicalise")
    )
    publish_shard_failures(failed, key="crawl-and-extract-failed-shards")
    videos_only = ClipFilter(dataset=config.extract.dataset)
    publish_preview(root, config.preview_dir, key="crawl-and-extract-preview", where=videos_only)
    totals = crawl_totals | pose_totals | clip_totals
    totals |= {"item_failures": item_failures, "shards_failed": len(failed)}
    logger.info("crawl-and-extract: %s", totals)
    written = ("crawl_shards_written", "pose_shards_written", "clip_shards_written")
    raise_if_shards_failed("crawl-and-extract", failed, sum(totals[key] for key in written))
    return totals
