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

Each stage's plan, per-shard function and finish step live in the library, shared with the
command line (`plan_crawl_job`/`run_crawl_shard`, `plan_pose_extraction`/`run_pose_shard`,
`plan_clip_derivation`/`run_clip_shard`/`finish_clip_derivation`); this module only maps the
per-shard functions over the pending shards as tasks and adds what orchestration needs (the
download limit, pose processes under a thread runner, artifacts).
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext

from extract.crawl.config import CrawlConfig
from extract.crawl.crawl import CrawlShard, plan_crawl_job, run_crawl_shard
from extract.crawl.session import CrawlSession
from extract.crawl.sources import Source
from extract.video.ingest import (
    VideoExtractConfig,
    finish_clip_derivation,
    plan_clip_derivation,
    plan_pose_extraction,
    run_clip_shard,
    run_pose_shard,
)
from extract.video.pose_model import PoseModelError
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
from storage.shard_reader import ClipFilter
from storage.shard_writer import ShardPlan


def _crawl_one_shard(config: CrawlConfig, shard: CrawlShard, limit_name: str) -> dict[str, int]:
    with concurrency(limit_name, occupy=1), CrawlSession(config) as session:
        summary = run_crawl_shard(session, shard)
    return {
        "videos_ok": summary.videos_ok,
        "videos_failed": summary.videos_failed,
        "videos_skipped": summary.videos_skipped,
    }


def _extract_one_pose_shard(
    config: VideoExtractConfig, plan: ShardPlan, in_pose_process: bool
) -> dict[str, int]:
    if in_pose_process:
        return run_in_pose_process(config.workers, run_pose_shard, config, plan)
    return run_pose_shard(config, plan)


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
    run_clip_shard,
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
    job = plan_crawl_job(sources, config.crawl)  # the same driver as `stylemotion crawl`
    if job.pending:
        set_download_limit(config.download_limit_name, config.max_parallel_downloads)
    futures = {
        s.plan.shard_id: crawl_shard_task.submit(config.crawl, s, config.download_limit_name)
        for s in job.pending
    }
    finished, failed = gather_shards(futures)
    totals = sum_stats(finished.values(), ("videos_ok", "videos_failed", "videos_skipped"))
    totals["crawl_shards_written"] = len(finished)
    totals["crawl_shards_skipped"] = len(job.shards) - len(job.pending)
    return totals, failed


def extract_poses(config: VideoExtractConfig) -> tuple[dict[str, int], dict[str, str]]:
    """One task per pose shard of the fetched videos that have none."""
    try:  # the same driver as `stylemotion extract`; it resolves the pose model once
        job = plan_pose_extraction(config)
    except PoseModelError as error:
        raise ParameterError(f"config.extract.pose.model_path: {error}") from error
    context = FlowRunContext.get()
    in_threads = runs_tasks_in_threads(context.task_runner if context else None)
    futures = {
        plan.shard_id: pose_shard_task.submit(job.config, plan, in_threads) for plan in job.pending
    }
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
    job = plan_clip_derivation(config)  # the same driver as `stylemotion extract`
    futures = {shard: clip_shard_task.submit(config, shard) for shard in job.pending}
    finished, failed = gather_shards(futures)
    superseded = finish_clip_derivation(job, bool(failed))
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
