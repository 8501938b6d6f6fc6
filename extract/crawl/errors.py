"""Why a crawled video failed: stable error kinds and the classifier of yt-dlp's exceptions.

Owns the vocabulary of `VideoRecord.error_kind` for the crawl (`CrawlErrorKind`) and the mapping
from whatever yt-dlp raised (a `DownloadError` wrapping an `ExtractorError` wrapping an
`HTTPError`, a bare `RequestError` for disabled file:// URLs, an `ExtractorError` raised while a
lazy search result is iterated...) to one kind, a message naming the URL or query, and whether
the failure is transient, and the crawl's own retry with exponential backoff for those
(`with_retries`). Kinds are stable strings: downstream reports group by them, so a new kind is a
contract change.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import TypeVar

from yt_dlp.networking.exceptions import HTTPError, IncompleteRead, RequestError, TransportError
from yt_dlp.utils import ContentTooShortError, UnsupportedError

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_MESSAGE_CHARS = 600
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_BUG_REPORT_HINT = re.compile(r"[;.]?\s*please report this issue on .*$", re.I | re.DOTALL)
_PRIVATE_PATTERNS = ("private video", "video is private", "this video is private", "members-only")
_GONE_PATTERNS = ("video unavailable", "has been removed", "no longer available", "does not exist")
_TRANSIENT_PATTERNS = (
    "timed out",
    "connection reset",
    "connection aborted",
    "remote end closed",
    "temporary failure in name resolution",
    "incompleteread",
)


class CrawlErrorKind(StrEnum):
    SEARCH_UNAVAILABLE = "SearchUnavailable"  # a search (API) page could not be reached
    NETWORK_UNAVAILABLE = "NetworkUnavailable"  # a host could not be reached / reset / 5xx / 429
    UNSUPPORTED_URL = "UnsupportedUrl"  # no extractor, or a page without any video
    NOT_FOUND = "NotFound"  # HTTP 404/410, or the site says the video is gone
    PRIVATE_VIDEO = "PrivateVideo"
    FILE_URL_DISABLED = "FileUrlDisabled"  # file:// URL while CrawlConfig.allow_file_urls is off
    TOO_LONG = "TooLong"  # longer than CrawlConfig.max_duration_s (or a live stream)
    NOT_A_VIDEO = "NotAVideo"  # not a video file at all, or no video stream
    CORRUPT = "Corrupt"  # a video container that cannot be read (e.g. a download cut short)
    DOWNLOAD_FAILED = "DownloadFailed"  # anything else


class CrawlError(Exception):
    """One failed video, URL or query: its kind and a message naming what failed and why."""

    def __init__(self, kind: CrawlErrorKind, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.transient = transient


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps (DownloadError.exc_info, ExtractorError.cause, ...)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        exc_info = getattr(current, "exc_info", None)
        wrapped = exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None
        cause = getattr(current, "cause", None)
        pending.extend(
            [wrapped, cause if isinstance(cause, BaseException) else None, current.__cause__]
        )


def clean_message(error: BaseException) -> str:
    """yt-dlp's message without colour codes, `ERROR: `, its bug-report hint, runaway length."""
    text = _BUG_REPORT_HINT.sub("", _ANSI_ESCAPE.sub("", str(error))).strip()
    text = text.removeprefix("ERROR: ").strip() or type(error).__name__
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."


def _http_status(errors: list[BaseException]) -> int | None:
    for error in errors:
        if isinstance(error, HTTPError):
            return error.status
    return None


def _network_kind(errors: list[BaseException], text: str) -> tuple[bool, bool]:
    """(is a network failure, is transient) from the chain and the lower-cased message."""
    status = _http_status(errors)
    if status is not None:
        transient = status == 429 or status >= 500
        return transient, transient
    transient = any(isinstance(e, IncompleteRead | ContentTooShortError) for e in errors) or any(
        pattern in text for pattern in _TRANSIENT_PATTERNS
    )
    network = transient or any(isinstance(e, TransportError) for e in errors)
    return network, transient


def _kind_of(
    errors: list[BaseException], text: str, searching: bool
) -> tuple[CrawlErrorKind, bool]:
    if any(isinstance(e, RequestError) for e in errors) and "file:// urls are disabled" in text:
        return CrawlErrorKind.FILE_URL_DISABLED, False
    if any(isinstance(e, UnsupportedError) for e in errors) or "unsupported url" in text:
        return CrawlErrorKind.UNSUPPORTED_URL, False
    if "no suitable extractor" in text:
        return CrawlErrorKind.UNSUPPORTED_URL, False
    if _http_status(errors) in (404, 410):
        return CrawlErrorKind.NOT_FOUND, False
    if any(pattern in text for pattern in _PRIVATE_PATTERNS):
        return CrawlErrorKind.PRIVATE_VIDEO, False
    if any(pattern in text for pattern in _GONE_PATTERNS):
        return CrawlErrorKind.NOT_FOUND, False
    network, transient = _network_kind(errors, text)
    if network:
        if searching:
            return CrawlErrorKind.SEARCH_UNAVAILABLE, transient
        return CrawlErrorKind.NETWORK_UNAVAILABLE, transient
    return CrawlErrorKind.DOWNLOAD_FAILED, False


def classify_error(error: BaseException, target: str, searching: bool = False) -> CrawlError:
    """Map an exception met fetching `target` (a URL or a yt-dlp search string) to a CrawlError.

    `searching` says the failure happened while running a search, so an unreachable host is
    `SearchUnavailable` rather than `NetworkUnavailable`.
    """
    if isinstance(error, CrawlError):
        return error
    errors = list(_chain(error))
    message = clean_message(error)
    kind, transient = _kind_of(errors, message.lower(), searching)
    if target not in message:
        message = f"{target}: {message}"
    return CrawlError(kind, message, transient)


def with_retries(
    action: Callable[[], T], target: str, searching: bool, retries: int, backoff_s: float
) -> T:
    """Run `action`; on a transient network error retry up to `retries` times with exponential
    backoff (`backoff_s`, then doubling). Any failure left is raised as a classified CrawlError.
    """
    for attempt in range(retries + 1):
        try:
            return action()
        except Exception as error:  # yt-dlp raises many unrelated types; all get classified
            failure = classify_error(error, target, searching)
            if not failure.transient or attempt == retries:
                raise failure from error
            delay = backoff_s * 2**attempt
            logger.info("%s; retry %d/%d in %.1f s", failure.message, attempt + 1, retries, delay)
            time.sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")
