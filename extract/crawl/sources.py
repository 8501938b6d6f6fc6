"""The styles file: which videos to crawl for which style label, as typed sources.

Owns the YAML format the crawl starts from and its validation; `extract.crawl.crawl` consumes the
sources. The format:

```yaml
defaults:                 # optional; every key optional
  limit: 20               # results per search query (> 0)
  site: ytsearch          # any yt-dlp search prefix: ytsearch, bilisearch, nicosearch, scsearch...
  max_duration_s: 600     # crawl setting carried to CrawlConfig (StylesFile.max_duration_s)
  max_height: 720         # crawl setting carried to CrawlConfig (StylesFile.max_height)
styles:                   # required, at least one style
  angry:                  # the style label every video found below gets
    queries: ["angry walk", {query: "情绪表演 愤怒", limit: 5, site: bilisearch}]
    urls: ["https://example.com/a.mp4"]   # a video, a page with videos, or a playlist
    local: ["/data/angry_clips/"]         # a video file or a folder (searched recursively)
```

Each style needs at least one of `queries`, `urls`, `local`. A query is a string (the defaults
apply) or a mapping with `query` and optional `limit` and `site`. Relative `local` paths are
resolved against the styles file's folder. Every mistake raises `SourcesError` naming the file
and the key (e.g. `styles.angry.queries[1].limit`). Queries may be any Unicode text.

A styles file is untrusted input, so its size is bounded before parsing (`MAX_STYLES_BYTES`),
YAML aliases (`*name`) are refused (a styles file needs none, and nested aliases are the
"billion laughs" bomb), and every value quoted in a message is cut (`storage.errors`).
"""

from __future__ import annotations

import functools
import logging
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import yaml
from yt_dlp.extractor import gen_extractor_classes

from storage.errors import UserInputError, cut_message, short_repr

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".flv", ".wmv", ".ts"}
)
DEFAULT_LIMIT = 20
DEFAULT_SITE = "ytsearch"
_TOP_KEYS = frozenset({"defaults", "styles"})
_DEFAULT_KEYS = frozenset({"limit", "site", "max_duration_s", "max_height"})
_STYLE_KEYS = frozenset({"queries", "urls", "local"})
_QUERY_KEYS = frozenset({"query", "limit", "site"})
MAX_STYLES_BYTES = 1_000_000
_MAX_KEY_CHARS = 200


class SourcesError(UserInputError, ValueError):
    """The styles file is unreadable or breaks the format (the message names file and key)."""


class _AliasRefused(yaml.YAMLError):
    """A YAML alias in a styles file (raised while composing, before anything is expanded)."""

    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__(f"line {mark.line + 1}, column {mark.column + 1}")


class _NoAliasLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses every alias, so no node is ever shared or expanded."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise _AliasRefused(self.peek_event().start_mark)
        return super().compose_node(parent, index)


@dataclass(frozen=True)
class QuerySource:
    """A keyword search on one site; `search_string` is what yt-dlp is given."""

    style: str
    query: str
    limit: int
    site: str = DEFAULT_SITE

    def __post_init__(self) -> None:
        if not self.query.strip():
            raise SourcesError(f"style {self.style}: empty search query")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit <= 0:
            raise SourcesError(f"query {short_repr(self.query)}: limit must be an integer > 0")

    @property
    def search_string(self) -> str:
        return f"{self.site}{self.limit}:{self.query}"


@dataclass(frozen=True)
class UrlSource:
    """One URL: a video page, a direct media file, a page with several videos or a playlist."""

    style: str
    url: str


@dataclass(frozen=True)
class LocalSource:
    """A local video file, or a folder whose video files (by extension) are all taken."""

    style: str
    path: Path

    def video_files(self) -> list[Path]:
        """The file itself, or the folder's video files (recursive, hidden ones skipped), sorted."""
        if self.path.is_file():
            return [self.path]
        return sorted(
            path
            for path in self.path.rglob("*")
            if path.is_file()
            and path.suffix.lower() in VIDEO_EXTENSIONS
            and not any(part.startswith(".") for part in path.relative_to(self.path).parts)
        )


Source = QuerySource | UrlSource | LocalSource


@dataclass(frozen=True)
class StylesFile:
    """Everything in a styles file: the sources and the crawl settings its defaults carry."""

    sources: tuple[Source, ...]
    max_duration_s: float | None = None
    max_height: int | None = None


@functools.cache
def _search_extractors() -> tuple[type, ...]:
    return tuple(
        extractor
        for extractor in gen_extractor_classes()
        if "search" in extractor.IE_NAME.lower() and extractor.ie_key() != "Generic"
    )


def is_search_site(site: str) -> bool:
    """Whether the installed yt-dlp has a search extractor for the prefix `site`."""
    probe = f"{site}1:probe"
    return site.isalnum() and any(ie.suitable(probe) for ie in _search_extractors())


class _Reader:
    """Validates one parsed styles file; every error names the file and the key path."""

    def __init__(self, origin: Path) -> None:
        self.origin = origin
        self.default_limit = DEFAULT_LIMIT
        self.default_site = DEFAULT_SITE

    def fail(self, key: str, reason: str) -> SourcesError:
        return SourcesError(f"{self.origin}: {cut_message(key, _MAX_KEY_CHARS)}: {reason}")

    def mapping(self, value: object, key: str, allowed: frozenset[str]) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {type(value).__name__}")
        unknown = sorted(str(name) for name in value if name not in allowed)
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}", f"unknown key (allowed: {sorted(allowed)})")
        return value

    def string_list(self, value: object, key: str) -> list:
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not value:
            raise self.fail(key, "expected a non-empty list")
        return value

    def limit(self, value: object, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.fail(key, f"limit must be an integer > 0, got {short_repr(value)}")
        return value

    def site(self, value: object, key: str) -> str:
        if not isinstance(value, str) or not is_search_site(value):
            raise self.fail(key, f"{short_repr(value)} is not a search prefix this yt-dlp knows")
        return value

    def positive_number(self, value: object, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.fail(key, f"expected a number > 0, got {short_repr(value)}")
        return float(value)

    def read(self, data: object) -> StylesFile:
        top = self.mapping(data, "(top level)", _TOP_KEYS)
        defaults = self.mapping(top.get("defaults") or {}, "defaults", _DEFAULT_KEYS)
        self.default_limit = self.limit(defaults.get("limit", DEFAULT_LIMIT), "defaults.limit")
        self.default_site = self.site(defaults.get("site", DEFAULT_SITE), "defaults.site")
        styles = top.get("styles")
        if not isinstance(styles, dict) or not styles:
            raise self.fail("styles", "missing or empty: name at least one style")
        sources: list[Source] = []
        for style, entry in styles.items():
            sources.extend(self.style_sources(style, entry))
        max_duration = defaults.get("max_duration_s")
        max_height = defaults.get("max_height")
        return StylesFile(
            sources=tuple(sources),
            max_duration_s=self.positive_number(max_duration, "defaults.max_duration_s")
            if max_duration is not None
            else None,
            max_height=int(self.positive_number(max_height, "defaults.max_height"))
            if max_height is not None
            else None,
        )

    def style_sources(self, style: object, entry: object) -> list[Source]:
        key = f"styles.{style}"
        if not isinstance(style, str) or not style.strip():
            raise self.fail(key, "a style name must be a non-empty string")
        entry = self.mapping(entry if entry is not None else {}, key, _STYLE_KEYS)
        sources: list[Source] = []
        for name, read_one in (("queries", self.query), ("urls", self.url), ("local", self.local)):
            items = entry.get(name)
            if items is None:
                continue
            for index, item in enumerate(self.string_list(items, f"{key}.{name}")):
                sources.append(read_one(style, item, f"{key}.{name}[{index}]"))
        if not sources:
            raise self.fail(key, "empty style: give queries, urls or local")
        return sources

    def query(self, style: str, item: object, key: str) -> QuerySource:
        if isinstance(item, str):
            item = {"query": item}
        item = self.mapping(item, key, _QUERY_KEYS)
        text = item.get("query")
        if not isinstance(text, str) or not text.strip():
            raise self.fail(f"{key}.query", "a query must be a non-empty string")
        return QuerySource(
            style=style,
            query=text.strip(),
            limit=self.limit(item.get("limit", self.default_limit), f"{key}.limit"),
            site=self.site(item.get("site", self.default_site), f"{key}.site"),
        )

    def url(self, style: str, item: object, key: str) -> UrlSource:
        if not isinstance(item, str) or not urllib.parse.urlsplit(item.strip()).scheme:
            raise self.fail(
                key, f"expected a URL with a scheme (https://...), got {short_repr(item)}"
            )
        return UrlSource(style=style, url=item.strip())

    def local(self, style: str, item: object, key: str) -> LocalSource:
        if not isinstance(item, str) or not item.strip():
            raise self.fail(key, f"expected a file or folder path, got {short_repr(item)}")
        path = Path(item.strip()).expanduser()
        path = path if path.is_absolute() else self.origin.parent / path
        shown = cut_message(str(path), _MAX_KEY_CHARS)
        try:
            path = path.resolve()
            exists = path.exists()
        except (OSError, RuntimeError) as error:  # name too long; a symlink loop (RuntimeError)
            reason = getattr(error, "strerror", None) or "a symlink loop"
            raise self.fail(key, f"{shown}: not a usable path ({reason})") from error
        if not exists:
            raise self.fail(key, f"{shown} does not exist")
        return LocalSource(style=style, path=path)


def _read_text(origin: Path) -> str:
    """The file's text, refused unread beyond `MAX_STYLES_BYTES` (also a FIFO or /dev/zero)."""
    try:
        with origin.open("rb") as handle:
            data = handle.read(MAX_STYLES_BYTES + 1)
    except OSError as error:
        raise SourcesError(f"{origin}: cannot read the styles file: {error}") from error
    if len(data) > MAX_STYLES_BYTES:
        raise SourcesError(
            f"{origin}: larger than {MAX_STYLES_BYTES} bytes; a styles file is a short list of "
            "queries, URLs and paths"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SourcesError(f"{origin}: not valid YAML: not UTF-8 text ({error.reason})") from error


def _parse_yaml(origin: Path, text: str) -> object:
    """The YAML document, with aliases and runaway nesting refused as `SourcesError`."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader subclass)
    except _AliasRefused as error:
        raise SourcesError(
            f"{origin}: {error}: YAML aliases (*name) are not allowed in a styles file "
            "(it needs none; write the value out instead)"
        ) from error
    except yaml.YAMLError as error:
        raise SourcesError(f"{origin}: not valid YAML: {cut_message(str(error))}") from error
    except RecursionError as error:
        raise SourcesError(f"{origin}: not valid YAML: nested too deeply") from error


def read_styles_file(path: str | Path) -> StylesFile:
    """Parse and validate a styles file (format in the module docstring)."""
    origin = Path(path)
    styles = _Reader(origin).read(_parse_yaml(origin, _read_text(origin)))
    logger.info("%s: %d sources", origin, len(styles.sources))
    return styles


def load_styles_file(path: str | Path) -> list[Source]:
    """The sources of a styles file, in file order."""
    return list(read_styles_file(path).sources)
