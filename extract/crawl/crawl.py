"""The crawl driver: styles-file sources in, media files and `videos` shards out (DESIGN: crawl).

Owns the plan and the loop: one shard per search query, per chunk of URLs, per chunk of the
files of one local folder, each with a deterministic id from `storage.shard_writer.plan_shards`
(prefixes `crawl-search`, `crawl-url`, `crawl-local`); done shards are skipped, the others are
fetched (`extract.crawl.session.CrawlSession`) and written as one `videos` table with its
done-marker. Every video seen becomes a row (`ok`, or `failed` with a kind from
`extract.crawl.errors`); a bad video, URL or query never stops the crawl.

Nothing is fetched twice: a done shard is skipped, a video whose id already has an `ok` row in
the root is skipped (across queries and runs), and yt-dlp gets a download archive: the lines of
`<root>/_state/download_archive.txt` (a local cache file when the root is not local) plus the
root's `ok` rows. yt-dlp gets it as a set; the file is appended only after a shard's rows are
committed, so a crash never leaves an archived video without a row. A video found by several
styles is kept once, under the first style that fetched it. `crawl_shard` is the unit an
orchestrator fans out; `crawl` runs every shard in this process.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from extract.crawl.config import CrawlConfig
from extract.crawl.session import CrawlItem, CrawlSession
from extract.crawl.sources import LocalSource, QuerySource, Source, UrlSource
from storage.filesystem import open_location
from storage.schema import VIDEOS_TABLE
from storage.shard_writer import ShardPlan, is_shard_done, plan_shards, write_table_shard
from storage.video_records import VideoRecord, VideoStatus
from storage.video_schema import videos_to_table

logger = logging.getLogger(__name__)

__all__ = [
    "CrawlConfig",
    "CrawlJob",
    "CrawlShard",
    "CrawlSummary",
    "crawl",
    "crawl_shard",
    "plan_crawl",
    "plan_crawl_job",
    "run_crawl_shard",
]


@dataclass
class CrawlSummary:
    shards_written: int = 0
    shards_skipped: int = 0  # already done (done-marker present)
    videos_ok: int = 0
    videos_skipped: int = 0  # already in the root or in the download archive
    failed: dict[str, int] = field(default_factory=dict)  # error kind -> rows

    def count(self, records: Sequence[VideoRecord]) -> None:
        self.videos_ok += sum(record.status is VideoStatus.OK for record in records)
        kinds = Counter(str(r.error_kind) for r in records if r.status is VideoStatus.FAILED)
        for kind, number in kinds.items():
            self.failed[kind] = self.failed.get(kind, 0) + number

    def add(self, other: CrawlSummary) -> None:
        """Count `other` (e.g. one shard's summary) into this one."""
        self.shards_written += other.shards_written
        self.shards_skipped += other.shards_skipped
        self.videos_ok += other.videos_ok
        self.videos_skipped += other.videos_skipped
        for kind, number in other.failed.items():
            self.failed[kind] = self.failed.get(kind, 0) + number

    @property
    def videos_failed(self) -> int:
        return sum(self.failed.values())


@dataclass(frozen=True)
class CrawlShard:
    """One shard to crawl: its plan (id, input keys) and the items behind the keys."""

    plan: ShardPlan
    items: tuple[CrawlItem, ...]


def item_key(item: CrawlItem) -> str:
    """The shard input naming an item: readable, unambiguous, stable (JSON of kind, style, what)."""
    if isinstance(item, QuerySource):
        return json.dumps(["search", item.style, item.search_string], ensure_ascii=False)
    if isinstance(item, UrlSource):
        return json.dumps(["url", item.style, item.url], ensure_ascii=False)
    return json.dumps(["local", item.style, item.path.as_posix()], ensure_ascii=False)


def _shards_of(items: Sequence[CrawlItem], size: int, prefix: str) -> list[CrawlShard]:
    by_key = {item_key(item): item for item in items}
    plans = plan_shards(list(by_key), size, prefix)
    return [CrawlShard(plan, tuple(by_key[key] for key in plan.inputs)) for plan in plans]


def plan_crawl(sources: Sequence[Source], config: CrawlConfig) -> list[CrawlShard]:
    """One shard per query, per chunk of URLs, per chunk of the files of one local folder."""
    shards: list[CrawlShard] = []
    for query in dict.fromkeys(s for s in sources if isinstance(s, QuerySource)):
        shards.extend(_shards_of([query], 1, "crawl-search"))  # id independent of other queries
    urls = [source for source in sources if isinstance(source, UrlSource)]
    shards.extend(_shards_of(urls, config.shard_size, "crawl-url"))
    for folder in dict.fromkeys(s for s in sources if isinstance(s, LocalSource)):
        files = [LocalSource(folder.style, path) for path in folder.video_files()]
        if not files:
            logger.warning("%s holds no video files", folder.path)
        shards.extend(_shards_of(files, config.shard_size, "crawl-local"))
    return shards


def crawl_shard(session: CrawlSession, shard: CrawlShard) -> list[VideoRecord]:
    """Fetch every item of one shard, write its `videos` table and done-marker; its rows."""
    records = [record for item in shard.items for record in session.fetch(item)]
    tables = {VIDEOS_TABLE: videos_to_table(records)}
    write_table_shard(session.location, shard.plan, tables, num_frames=0)
    session.record_archive(records)
    return records


@dataclass
class CrawlJob:
    """The plan of one crawl, shared by the command line and the flow (one driver).

    `shards` are every shard of the sources, `pending` those without a done-marker; each pending
    shard is `run_crawl_shard`.
    """

    config: CrawlConfig
    shards: list[CrawlShard]
    pending: list[CrawlShard]


def plan_crawl_job(sources: Sequence[Source], config: CrawlConfig) -> CrawlJob:
    """Plan the shards of `sources` and find those not yet done."""
    location = open_location(config.out_root)
    shards = plan_crawl(sources, config)
    pending = [shard for shard in shards if not is_shard_done(location, shard.plan.shard_id)]
    return CrawlJob(config, shards, pending)


def run_crawl_shard(session: CrawlSession, shard: CrawlShard) -> CrawlSummary:
    """Crawl one shard (the unit a flow maps over); the summary of this shard alone."""
    skipped_before = session.videos_skipped
    summary = CrawlSummary(shards_written=1)
    summary.count(crawl_shard(session, shard))
    summary.videos_skipped = session.videos_skipped - skipped_before
    return summary


def crawl(
    sources: Sequence[Source], config: CrawlConfig, show_progress: bool = False
) -> CrawlSummary:
    """Crawl every source into `config.out_root`; shards already done are skipped."""
    job = plan_crawl_job(sources, config)
    summary = CrawlSummary(shards_skipped=len(job.shards) - len(job.pending))
    with CrawlSession(config) as session:
        for shard in tqdm(job.pending, desc="crawl", unit="shard", disable=not show_progress):
            summary.add(run_crawl_shard(session, shard))
    logger.info(
        "crawl into %s: %d shards written, %d skipped; %d videos ok, %d skipped, failed %s",
        config.out_root,
        summary.shards_written,
        summary.shards_skipped,
        summary.videos_ok,
        summary.videos_skipped,
        summary.failed or "none",
    )
    return summary
