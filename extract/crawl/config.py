"""The crawl's settings and how they become yt-dlp options and a place for the crawl's state.

Owns `CrawlConfig` (the crawl's parameters, also a Prefect flow's), `build_ydl_options` (the
yt-dlp parameters every download of a crawl uses: format choice, duration filter, download
archive, politeness, retries, logging into ours), and where the download archive file lives
for a given root (`archive_path`, `read_archive`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
from yt_dlp.utils import match_filter_func

from storage.filesystem import Location

logger = logging.getLogger(__name__)

STATE_DIR = "_state"
ARCHIVE_NAME = "download_archive.txt"
# Best video <= max height, H.264 (+ AAC) first since it decodes everywhere, then any codec.
# `<=?` keeps formats of unknown height (the generic extractor on a bare .mp4 URL knows none);
# `w` last: if every format is taller, the smallest one rather than the largest.
FORMAT_TEMPLATE = (
    "bv*[height<=?{h}][vcodec^=avc1]+ba[acodec^=mp4a]/bv*[height<=?{h}][vcodec^=avc1]+ba"
    "/b[height<=?{h}][ext=mp4]/bv*[height<=?{h}]+ba/b[height<=?{h}]/w"
)


@dataclass(frozen=True)
class CrawlConfig:
    """Everything the crawl needs; also the Prefect flow's parameters."""

    out_root: str
    max_height: int = 720
    max_duration_s: float = 600.0
    sleep_interval_s: float = 1.0  # yt-dlp: random sleep in [this, max] before each download
    max_sleep_interval_s: float = 3.0
    sleep_interval_requests_s: float = 0.5  # yt-dlp: sleep between extraction requests
    ratelimit_bytes_per_s: int | None = None
    retries: int = 3  # yt-dlp's own retries of HTTP requests and fragments, and extractors'
    fragment_retries: int = 3
    extractor_retries: int = 2
    socket_timeout_s: float = 20.0
    network_retries: int = 2  # our retries of transient network errors (timeouts, 5xx, 429)
    backoff_s: float = 2.0  # delay before our first retry; doubles each time
    allow_file_urls: bool = False
    shard_size: int = 16  # URLs or local files per shard; a search query is always one shard
    max_playlist_items: int = 50  # entries taken from one URL that is a playlist
    staging_dir: str | None = None  # local download folder (default: a temporary one)
    cache_dir: str | None = None  # where the archive lives when the root is not local

    def __post_init__(self) -> None:
        if self.max_height <= 0 or self.max_duration_s <= 0 or self.shard_size < 1:
            raise ValueError("max_height, max_duration_s and shard_size must be positive")
        if min(self.sleep_interval_s, self.sleep_interval_requests_s, self.backoff_s) < 0:
            raise ValueError("sleep intervals and backoff_s must be >= 0")
        if self.max_sleep_interval_s < self.sleep_interval_s:
            raise ValueError("max_sleep_interval_s must be >= sleep_interval_s")
        if self.network_retries < 0 or self.max_playlist_items < 1:
            raise ValueError("network_retries must be >= 0 and max_playlist_items >= 1")


class _YtDlpLogger:
    """yt-dlp's output into our logger; its errors at debug level (we record and log them)."""

    def debug(self, message: str) -> None:
        logger.debug("yt-dlp: %s", message)

    def info(self, message: str) -> None:
        logger.debug("yt-dlp: %s", message)

    def warning(self, message: str) -> None:
        logger.info("yt-dlp: %s", message)

    def error(self, message: str) -> None:
        logger.debug("yt-dlp: %s", message)


def build_ydl_options(config: CrawlConfig, staging: Path, archive: set[str]) -> dict[str, Any]:
    """yt-dlp parameters: format, duration filter, archive, politeness, retries, logging."""
    options: dict[str, Any] = {
        "format": FORMAT_TEMPLATE.format(h=config.max_height),
        "merge_output_format": "mp4/mkv",
        "match_filter": match_filter_func(f"!is_live & duration <=? {config.max_duration_s}"),
        "download_archive": archive,
        "paths": {"home": str(staging), "temp": str(staging)},
        "outtmpl": "%(extractor_key)s-%(id)s.%(ext)s",
        "restrictfilenames": True,
        "noplaylist": True,  # a watch URL inside a playlist means the video
        "skip_unavailable_fragments": False,  # a video with holes is a failure, not a row
        "retries": config.retries,
        "fragment_retries": config.fragment_retries,
        "extractor_retries": config.extractor_retries,
        "socket_timeout": config.socket_timeout_s,
        "sleep_interval_requests": config.sleep_interval_requests_s or None,
        "ratelimit": config.ratelimit_bytes_per_s,
        "enable_file_urls": config.allow_file_urls,
        "cachedir": False,
        "quiet": True,
        "noprogress": True,
        "color": {"stdout": "no_color", "stderr": "no_color"},
        "logger": _YtDlpLogger(),
    }
    if config.sleep_interval_s > 0:
        options["sleep_interval"] = config.sleep_interval_s
        options["max_sleep_interval"] = config.max_sleep_interval_s
    return options


def archive_path(location: Location, config: CrawlConfig) -> Path:
    """`<root>/_state/download_archive.txt`, or a local cache file per root URI."""
    if isinstance(location.filesystem, pafs.LocalFileSystem):
        return Path(location.join(STATE_DIR, ARCHIVE_NAME))
    cache = Path(config.cache_dir or Path.home() / ".cache" / "stylemotion" / "crawl")
    return cache / hashlib.sha1(location.uri.encode("utf-8")).hexdigest()[:16] / ARCHIVE_NAME


def read_archive(path: Path) -> set[str]:
    """The lines of a yt-dlp download archive file (`<extractor> <id>`), empty if none yet."""
    if not path.is_file():
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip()}
