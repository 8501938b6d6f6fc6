"""One crawl's working state and the fetching of one source item into `VideoRecord` rows.

Owns the fetching side of the crawl (`extract.crawl.crawl` plans and writes the shards; the settings
and yt-dlp options are `extract.crawl.config`): what the root already has, the download
archive, and `CrawlSession`, which turns a query, a URL or a local file into rows. A search or
URL is listed first without downloading (`extract_info(process=False)`), then every entry is
downloaded on its own, so one bad entry of a playlist or search becomes one failed row and the
others still come in. Each download lands in a local staging folder, is checked with ffprobe,
and is moved under the root (`extract.crawl.media`). Transient network errors are retried with
backoff (`extract.crawl.errors.with_retries`).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import pyarrow.compute as pc
import yt_dlp
from yt_dlp.utils import make_archive_id

from extract.crawl.config import CrawlConfig, archive_path, build_ydl_options, read_archive
from extract.crawl.errors import CrawlError, CrawlErrorKind, with_retries
from extract.crawl.media import VideoProbe, media_path_for, probe_video, sha256_file, store_media
from extract.crawl.sources import LocalSource, QuerySource, UrlSource
from storage.filesystem import Location, open_location
from storage.records import make_clip_id, utc_now_iso
from storage.schema import VIDEOS_TABLE
from storage.shard_reader import ShardReader
from storage.video_records import VideoRecord, VideoSourceKind, VideoStatus

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Extractors whose ids are file or page names, not ids of a video on a site (see unique_entry).
_NAME_IDS = frozenset({"Generic", "HTML5MediaEmbed"})
# Failures met after the download: archived so the same file is not fetched to be rejected again.
_FETCHED_FAILURES = frozenset({CrawlErrorKind.TOO_LONG.value, CrawlErrorKind.NOT_A_VIDEO.value})

CrawlItem = QuerySource | UrlSource | LocalSource  # a LocalSource item is always one file


@dataclass(frozen=True)
class _Origin:
    """The provenance all rows of one item share."""

    style: str
    kind: VideoSourceKind
    target: str  # the yt-dlp input (search string or URL) or the local file's URI
    query: str | None = None


@dataclass
class KnownVideos:
    """What the root already has: ids and file hashes of `ok` rows, their yt-dlp archive ids."""

    video_ids: set[str]
    sha256s: set[str]
    archive_ids: set[str]


def read_known_videos(location: Location) -> KnownVideos:
    """The `ok` rows of the root's videos table, as sets."""
    columns = ["video_id", "sha256", "extractor", "extractor_id"]
    dataset = ShardReader(location).dataset(VIDEOS_TABLE)
    rows = dataset.to_table(columns=columns, filter=pc.field("status") == "ok").to_pylist()
    return KnownVideos(
        video_ids={row["video_id"] for row in rows},
        sha256s={row["sha256"] for row in rows},
        archive_ids={
            make_archive_id(row["extractor"], row["extractor_id"])
            for row in rows
            if row["extractor"] and row["extractor_id"]
        },
    )


def video_id_of(extractor_key: str, extractor_id: str) -> str:
    return make_clip_id("video", extractor_key.lower(), extractor_id)


def _identity(info: dict) -> tuple[str, str] | None:
    """(extractor key, id) of an info dict or a flat playlist entry, when both are known."""
    key = info.get("extractor_key") or info.get("ie_key")
    return (str(key), str(info["id"])) if key and info.get("id") else None


def _info_fields(info: dict) -> dict[str, Any]:
    """The provenance columns of a row from what yt-dlp knows about a video."""
    identity = _identity(info)
    return {
        "extractor": identity[0] if identity else None,
        "extractor_id": identity[1] if identity else None,
        "title": info.get("title"),
        "uploader": info.get("uploader"),
        "licence": info.get("license"),
        "duration_s": info.get("duration"),
        "fps": info.get("fps"),
        "width": info.get("width"),
        "height": info.get("height"),
    }


def _failed(origin: _Origin, error: CrawlError, info: dict | None = None) -> VideoRecord:
    """A failed row keeping all that is known; the message names the URL or query."""
    info = info or {}
    identity = _identity(info)
    url = info.get("webpage_url") or info.get("url") or origin.target
    video_id = video_id_of(*identity) if identity else make_clip_id("video", origin.target)
    message = error.message if url in error.message else f"{url}: {error.message}"
    logger.warning("style %s: %s: %s", origin.style, error.kind, message)
    return VideoRecord(
        **_info_fields(info),
        video_id=video_id,
        source_url=url,
        source_kind=origin.kind,
        status=VideoStatus.FAILED,
        fetched_at=utc_now_iso(),
        style=origin.style,
        query=origin.query,
        error_kind=str(error.kind),
        error_message=message,
    )


def _videos_in(result: dict | None) -> list[dict]:
    """The video info dicts inside a processed yt-dlp result (playlists flattened)."""
    if not result:
        return []
    if result.get("_type", "video") in ("playlist", "multi_video"):
        return [video for entry in result.get("entries") or [] for video in _videos_in(entry)]
    return [result] if result.get("_type", "video") == "video" else []


def _entry_info(entry: dict, context: dict) -> dict:
    """What is known of a listed entry: a video's own fields over its page's, or a URL's."""
    if entry.get("_type", "video") == "video":
        return {**context, **entry}
    return {"webpage_url": entry.get("url"), **entry}


def unique_entry(entry: dict, context: dict) -> dict:
    """The entry with an id that names one video on the web, not just a file or page name.

    The generic extractors' ids are names: `video` for any `.../video.mp4`, `index-1` for the
    first `<video>` of any `.../index.html`. Two sites would share a video id and an archive
    line, and the second video would be skipped as a duplicate; a hash of the page URL is added.
    """
    info = {**context, **entry}
    if entry.get("_type", "video") != "video" or info.get("extractor_key") not in _NAME_IDS:
        return entry
    page = str(info.get("webpage_url") or info.get("url") or "")
    digest = hashlib.sha1(page.encode("utf-8")).hexdigest()[:8]
    unique = {key: value for key, value in entry.items() if key != "_old_archive_ids"}
    return {**unique, "id": f"{entry.get('id') or 'video'}-{digest}"}


def _with_probe(info: dict, path: Path) -> dict:
    """`info` with what ffprobe measures in the file (it wins: it is what we stored)."""
    probe: VideoProbe = probe_video(path)
    return {
        **info,
        "duration": probe.duration_s or info.get("duration"),
        "fps": probe.fps or info.get("fps"),
        "width": probe.width,
        "height": probe.height,
    }


class CrawlSession:
    """One crawl's state: the root, a staging folder, the archive, known videos, one YoutubeDL.

    Use as a context manager; `fetch(item)` returns the rows of one item (none for a video the
    root already has) and never raises for a bad video, URL or query.
    """

    def __init__(self, config: CrawlConfig) -> None:
        self.config = config
        self.location = open_location(config.out_root)
        self.archive_path = archive_path(self.location, config)
        self.known = read_known_videos(self.location)
        self.archive = read_archive(self.archive_path) | self.known.archive_ids
        self.pending_archive: list[str] = []  # fetched, no row: archived with the next shard
        self.videos_skipped = 0
        self._own_staging = config.staging_dir is None
        self.staging = Path(config.staging_dir or tempfile.mkdtemp(prefix="stylemotion-crawl-"))
        self.staging.mkdir(parents=True, exist_ok=True)
        self.ydl = yt_dlp.YoutubeDL(build_ydl_options(config, self.staging, self.archive))

    def __enter__(self) -> CrawlSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.ydl.close()
        if self._own_staging:
            shutil.rmtree(self.staging, ignore_errors=True)

    def fetch(self, item: CrawlItem) -> list[VideoRecord]:
        if isinstance(item, LocalSource):
            record = self.fetch_local(item)
            return [record] if record else []
        if isinstance(item, QuerySource):
            origin = _Origin(item.style, VideoSourceKind.SEARCH, item.search_string, item.query)
            max_items = item.limit
        else:
            origin = _Origin(item.style, VideoSourceKind.URL, item.url)
            max_items = self.config.max_playlist_items
        try:
            entries = self._retrying(
                lambda: self.list_entries(origin.target, max_items),
                origin.target,
                searching=origin.kind is VideoSourceKind.SEARCH,
            )
        except CrawlError as error:
            return [_failed(origin, error)]
        return [
            record
            for entry, context in entries
            for record in self.fetch_entry(origin, entry, context)
        ]

    def _retrying(self, action: Callable[[], T], target: str, searching: bool = False) -> T:
        config = self.config
        return with_retries(action, target, searching, config.network_retries, config.backoff_s)

    def list_entries(self, target: str, max_items: int) -> list[tuple[dict, dict]]:
        """(entry, context) pairs: the first entries of a search or playlist, or the video."""
        result = self.ydl.extract_info(target, download=False, process=False)
        if result is None:  # yt-dlp found the URL's video id in the archive before extracting
            self.videos_skipped += 1
            return []
        if result.get("_type") not in ("playlist", "multi_video"):
            return [(result, {})]
        keys = ("extractor", "extractor_key", "webpage_url", "original_url")
        context = {key: result[key] for key in keys if result.get(key)}
        entries = islice(result.get("entries") or [], max_items)
        return [(entry, context) for entry in entries if entry]  # a lazy search fetches here

    def already_have(self, identity: tuple[str, str] | None) -> bool:
        if identity is None:
            return False
        key, extractor_id = identity
        return video_id_of(key, extractor_id) in self.known.video_ids or (
            make_archive_id(key, extractor_id) in self.archive
        )

    def fetch_entry(self, origin: _Origin, entry: dict, context: dict) -> list[VideoRecord]:
        """Download one listed entry (following a URL entry) and turn it into rows."""
        entry = unique_entry(entry, context)
        info = _entry_info(entry, context)
        if self.already_have(_identity(info)):
            self.videos_skipped += 1
            return []
        target = info.get("webpage_url") or origin.target
        try:
            result = self._retrying(
                lambda: self.ydl.process_ie_result(
                    dict(entry), download=True, extra_info=dict(context)
                ),
                target,
            )
        except CrawlError as error:
            return [_failed(origin, error, info)]
        videos = _videos_in(result)
        if not videos:  # yt-dlp found it in the archive after extracting
            self.videos_skipped += 1
        records = [self.finish_download(origin, video) for video in videos]
        return [record for record in records if record is not None]

    def finish_download(self, origin: _Origin, info: dict) -> VideoRecord | None:
        """The row of a processed video: checked and stored, rejected, or None if skipped."""
        downloads = info.get("requested_downloads") or []
        if not downloads:
            return self.not_downloaded(origin, info)
        path = Path(downloads[0]["filepath"])
        try:
            identity = _identity(info)
            if identity is None:
                raise CrawlError(CrawlErrorKind.DOWNLOAD_FAILED, "yt-dlp gave no extractor/id")
            info = _with_probe(info, path)
            return self.commit(origin, video_id_of(*identity), path, info)
        except CrawlError as error:
            return _failed(origin, error, info)
        except OSError as error:
            return _failed(origin, CrawlError(CrawlErrorKind.DOWNLOAD_FAILED, str(error)), info)
        finally:
            path.unlink(missing_ok=True)

    def not_downloaded(self, origin: _Origin, info: dict) -> VideoRecord | None:
        """yt-dlp processed the video but did not download it: our filter, or the archive."""
        duration = info.get("duration")
        if info.get("is_live"):
            error = CrawlError(CrawlErrorKind.TOO_LONG, "a live stream (no end) is never fetched")
        elif duration and duration > self.config.max_duration_s:
            error = self.too_long(duration)
        elif self.already_have(_identity(info)):
            self.videos_skipped += 1
            return None
        else:
            error = CrawlError(CrawlErrorKind.DOWNLOAD_FAILED, "yt-dlp skipped it without a reason")
        return _failed(origin, error, info)

    def too_long(self, duration_s: float) -> CrawlError:
        limit = self.config.max_duration_s
        message = f"{duration_s:.1f} s long, over max_duration_s={limit:g}"
        return CrawlError(CrawlErrorKind.TOO_LONG, message)

    def commit(
        self, origin: _Origin, video_id: str, path: Path, info: dict, sha256: str | None = None
    ) -> VideoRecord | None:
        """Put a probed file under the root; its ok row, or None when the root already holds
        the same bytes (the same video behind another page, or a local copy of it).

        `info`: what yt-dlp said, updated by `_with_probe`. A local source (given `sha256`) is
        linked or copied; a staged download is moved.
        """
        fields = {**_info_fields(info), "source_url": info.get("webpage_url") or origin.target}
        duration = fields["duration_s"]
        if duration and duration > self.config.max_duration_s:
            raise self.too_long(duration)
        keep_source = sha256 is not None
        sha256 = sha256 or sha256_file(path)
        if sha256 in self.known.sha256s:
            self.skip_same_bytes(fields, downloaded=not keep_source)
            return None
        size_bytes = path.stat().st_size
        media_path = media_path_for(video_id, path)
        store_media(self.location, path, media_path, keep_source)
        self.known.video_ids.add(video_id)
        self.known.sha256s.add(sha256)
        return VideoRecord(
            **fields,
            video_id=video_id,
            source_kind=origin.kind,
            status=VideoStatus.OK,
            fetched_at=utc_now_iso(),
            style=origin.style,
            query=origin.query,
            size_bytes=size_bytes,
            sha256=sha256,
            media_path=media_path,
        )

    def skip_same_bytes(self, fields: dict, downloaded: bool) -> None:
        """A file whose bytes the root holds already: no row; a download is still archived."""
        logger.info("%s: same file as a video the root has; skipped", fields["source_url"])
        self.videos_skipped += 1
        extractor, extractor_id = fields.get("extractor"), fields.get("extractor_id")
        if downloaded and extractor and extractor_id:
            self.pending_archive.append(make_archive_id(extractor, extractor_id))

    def fetch_local(self, item: LocalSource) -> VideoRecord | None:
        """Hardlink (or copy) one local file into the root; its id comes from its content."""
        origin = _Origin(item.style, VideoSourceKind.LOCAL, item.path.as_uri())
        info: dict[str, Any] = {"webpage_url": origin.target, "title": item.path.stem}
        try:
            sha256 = sha256_file(item.path)
            info.update(extractor_key="local", id=sha256)
            video_id = video_id_of("local", sha256)
            if video_id in self.known.video_ids:
                self.videos_skipped += 1
                return None
            info = _with_probe(info, item.path)
            return self.commit(origin, video_id, item.path, info, sha256=sha256)
        except CrawlError as error:
            return _failed(origin, error, info)
        except OSError as error:
            return _failed(origin, CrawlError(CrawlErrorKind.DOWNLOAD_FAILED, str(error)), info)

    def record_archive(self, records: list[VideoRecord]) -> None:
        """Append the fetched videos of a committed shard to the archive file."""
        lines, self.pending_archive = self.pending_archive, []
        lines += [
            make_archive_id(record.extractor, record.extractor_id)
            for record in records
            if record.extractor
            and record.extractor_id
            and record.extractor != "local"
            and (record.status is VideoStatus.OK or record.error_kind in _FETCHED_FAILURES)
        ]
        if lines:
            self.archive.update(lines)
            self.archive_path.parent.mkdir(parents=True, exist_ok=True)
            with self.archive_path.open("a", encoding="utf-8") as stream:
                stream.write("".join(f"{line}\n" for line in lines))
