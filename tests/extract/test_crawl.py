"""The crawl end to end: the real yt-dlp against a loopback site built from real videos.

No mocks: `tests/extract/loopback_http.py` serves links to the sample videos on 127.0.0.1, and
the search query really fails here (no internet), which is what `SearchUnavailable` is for.
"""

from __future__ import annotations

import io
import shutil
import uuid
from pathlib import Path

import pytest
from yt_dlp.networking import Response
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import DownloadError, ExtractorError

from extract.crawl.config import build_ydl_options
from extract.crawl.crawl import CrawlConfig, CrawlSummary, crawl, plan_crawl
from extract.crawl.errors import classify_error
from extract.crawl.media import sha256_file
from extract.crawl.sources import LocalSource, QuerySource, UrlSource, load_styles_file
from storage.filesystem import open_location
from storage.records import make_clip_id
from storage.shard_reader import ShardReader
from tests.extract.loopback_http import LoopbackSite, serve_directory

SITE_VIDEOS = {
    "tennis.mp4": "gvhmr/tennis.mp4",  # 10.5 s, 812x720
    "dance.mp4": "footskate_reducer/dance.mp4",  # 2.9 s, 1280x720
    "demo.mp4": "mmpose/demo.mp4",  # 5 frames, 960x540
    "soccer.mp4": "mmpose/posetrack18_000001_mpiinew_test.mp4",  # 5 frames, 1280x720
}


def html(title: str, body: str) -> str:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>"


@pytest.fixture(scope="module")
def site_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    for name, relative in SITE_VIDEOS.items():
        (folder / name).symlink_to(shared_data / "video" / relative)
    for subfolder, name in (("one", "demo.mp4"), ("two", "soccer.mp4")):
        (folder / subfolder).mkdir()
        (folder / subfolder / "clip.mp4").symlink_to(folder / name)
    pages = {
        "page.html": html("Dance page", '<video controls src="dance.mp4"></video>'),
        "playlist.html": html(
            "Two clips",
            '<video><source src="demo.mp4" type="video/mp4"></video>'
            '<video><source src="soccer.mp4" type="video/mp4"></video>',
        ),
        "half_broken.html": html(
            "One gone",
            '<video><source src="gone.mp4" type="video/mp4"></video>'
            '<video><source src="dance.mp4" type="video/mp4"></video>',
        ),
        "novideo.html": html("Nothing", "<p>no video here</p>"),
        "fake.mp4": "this is a text file, not a video\n",
    }
    for name, text in pages.items():
        (folder / name).write_text(text, encoding="utf-8")
    tennis = (shared_data / "video" / SITE_VIDEOS["tennis.mp4"]).read_bytes()
    (folder / "truncated.mp4").write_bytes(tennis[: len(tennis) // 4])
    return folder


@pytest.fixture(scope="module")
def local_dir(shared_data: Path, site_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("local_clips")
    (folder / "street.avi").symlink_to(shared_data / "video" / "openpose_examples" / "video.avi")
    shutil.copyfile(site_dir / "dance.mp4", folder / "dance_copy.mp4")  # same bytes as page's
    (folder / "broken.mp4").write_text("not a video either\n", encoding="utf-8")
    (folder / "readme.txt").write_text("ignored: not a video extension\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def site(site_dir: Path):
    with serve_directory(site_dir) as running:
        yield running


def fast_config(root: Path | str, **overrides: object) -> CrawlConfig:
    """The real settings minus politeness sleeps, so the tests stay fast."""
    settings = dict(sleep_interval_s=0.0, sleep_interval_requests_s=0.0, backoff_s=0.01)
    return CrawlConfig(out_root=str(root), **{**settings, **overrides})


def styles_text(site: LoopbackSite, site_dir: Path, local_dir: Path, style: str = "angry") -> str:
    urls = ["tennis.mp4", "page.html", "novideo.html", "missing.mp4", "fake.mp4", "truncated.mp4"]
    listed = ", ".join(f'"{site.url(name)}"' for name in urls)
    return f"""
defaults: {{limit: 2, site: ytsearch}}
styles:
  {style}:
    queries: ["angry walk"]
    urls: [{listed}, "{(site_dir / "demo.mp4").as_uri()}"]
  happy:
    urls: ["{site.url("playlist.html")}"]
    local: ["{local_dir}"]
"""


def read_rows(root: Path | str) -> list[dict]:
    rows = ShardReader(root).dataset("videos").to_table().to_pylist()
    return sorted(rows, key=lambda row: (row["video_id"], row["source_url"], row["style"]))


@pytest.fixture(scope="module")
def crawled(site: LoopbackSite, site_dir: Path, local_dir: Path, tmp_path_factory):
    """One crawl of the mixed styles file; the request log of that crawl is kept."""
    root = tmp_path_factory.mktemp("root")
    styles = root.parent / f"{root.name}-styles.yaml"
    styles.write_text(styles_text(site, site_dir, local_dir), encoding="utf-8")
    site.clear()
    summary = crawl(load_styles_file(styles), fast_config(root))
    return root, styles, summary, list(site.requests)


def rows_by_url(rows: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["source_url"], []).append(row)
    return grouped


def test_summary_counts_every_outcome(crawled) -> None:
    _, _, summary, _ = crawled
    assert summary.videos_ok == 5  # tennis, page's dance, playlist's 2, local street.avi
    assert summary.failed == {
        "SearchUnavailable": 1,
        "UnsupportedUrl": 1,
        "NotFound": 1,
        "NotAVideo": 2,  # fake.mp4, local broken.mp4
        "Corrupt": 1,  # truncated.mp4
        "FileUrlDisabled": 1,
    }
    assert summary.videos_skipped == 1  # local dance_copy.mp4: same bytes as page.html's video
    assert summary.shards_written == 3 and summary.shards_skipped == 0


def test_failed_rows_name_the_url_and_the_reason(crawled, site: LoopbackSite, site_dir) -> None:
    root = crawled[0]
    failed = {row["error_kind"]: row for row in read_rows(root) if row["status"] == "failed"}
    search = failed["SearchUnavailable"]
    assert search["source_url"] == "ytsearch2:angry walk" and search["query"] == "angry walk"
    assert search["source_kind"] == "search" and "ytsearch2:angry walk" in search["error_message"]
    assert "Failed to resolve" in search["error_message"]
    expected = {
        "UnsupportedUrl": site.url("novideo.html"),
        "NotFound": site.url("missing.mp4"),
        "FileUrlDisabled": (site_dir / "demo.mp4").as_uri(),
    }
    for kind, url in expected.items():
        assert failed[kind]["source_url"] == url and url in failed[kind]["error_message"]
        assert failed[kind]["media_path"] is None and failed[kind]["style"] == "angry"
    not_videos = [row for row in read_rows(root) if row["error_kind"] == "NotAVideo"]
    assert {row["extractor"] for row in not_videos} == {"Generic", "local"}
    assert all("ffprobe cannot read it" in row["error_message"] for row in not_videos)
    assert "404" in failed["NotFound"]["error_message"]


def test_ok_rows_hold_provenance_and_the_exact_bytes(crawled, site, site_dir, local_dir) -> None:
    root = crawled[0]
    ok = rows_by_url([row for row in read_rows(root) if row["status"] == "ok"])
    sources = {
        site.url("tennis.mp4"): [site_dir / "tennis.mp4"],
        site.url("page.html"): [site_dir / "dance.mp4"],
        site.url("playlist.html"): [site_dir / "demo.mp4", site_dir / "soccer.mp4"],
        (local_dir / "street.avi").as_uri(): [local_dir / "street.avi"],
    }
    assert set(ok) == set(sources)
    for url, files in sources.items():
        rows = sorted(ok[url], key=lambda row: row["extractor_id"])
        assert sorted(row["sha256"] for row in rows) == sorted(sha256_file(f) for f in files)
        for row in rows:
            media = root / row["media_path"]
            assert row["media_path"] == f"media/{row['video_id']}{media.suffix}"
            assert sha256_file(media) == row["sha256"] and media.stat().st_size == row["size_bytes"]
            assert row["width"] > 0 and row["height"] > 0 and row["fps"] > 0
            assert row["fetched_at"] and row["error_kind"] is None
    [tennis] = ok[site.url("tennis.mp4")]
    # the generic extractor's id is the file name; the crawl adds a hash of the URL
    assert tennis["extractor_id"].startswith("tennis-")
    assert tennis["video_id"] == make_clip_id("video", "generic", tennis["extractor_id"])
    assert (tennis["extractor"], tennis["title"]) == ("Generic", "tennis")
    assert (tennis["width"], tennis["height"]) == (812, 720)  # from ffprobe: the site said none
    assert tennis["duration_s"] == pytest.approx(10.45, abs=0.05)
    assert tennis["fps"] == pytest.approx(29.83, abs=0.05)
    assert (tennis["style"], tennis["source_kind"], tennis["query"]) == ("angry", "url", None)
    playlist = ok[site.url("playlist.html")]
    assert {row["extractor"] for row in playlist} == {"HTML5MediaEmbed"}
    assert {row["style"] for row in playlist} == {"happy"}
    [street] = ok[(local_dir / "street.avi").as_uri()]
    assert street["video_id"] == make_clip_id("video", "local", street["sha256"])
    assert (street["extractor"], street["source_kind"]) == ("local", "local")
    assert street["media_path"].endswith(".avi")


def test_rerun_fetches_nothing_and_leaves_the_table_unchanged(crawled, site) -> None:
    root, styles, _, first_requests = crawled
    assert first_requests, "the first crawl should have talked to the loopback site"
    before = read_rows(root)
    site.clear()
    summary = crawl(load_styles_file(styles), fast_config(root), show_progress=True)
    assert site.requests == []  # done-markers: not even a page is asked for
    assert summary == CrawlSummary(shards_written=0, shards_skipped=3)
    assert read_rows(root) == before


def test_new_shards_reuse_the_archive_and_the_ok_rows(
    crawled, site, site_dir, local_dir, tmp_path: Path
) -> None:
    """The same URLs under another style make new shards; nothing fetched is fetched again."""
    root = tmp_path / "root"
    shutil.copytree(crawled[0], root, symlinks=True)
    first_requests = crawled[3]
    styles = tmp_path / "styles.yaml"
    text = styles_text(site, site_dir, local_dir, style="calm").replace("local:", "#local:")
    styles.write_text(text.replace('["angry walk"]', '["calm walk"]'), encoding="utf-8")
    site.clear()
    summary = crawl(load_styles_file(styles), fast_config(root))
    assert summary.videos_ok == 0
    assert summary.videos_skipped == 5  # tennis, page's dance, fake, playlist's 2
    # A container cut short (Corrupt) is not archived: the next download may be complete.
    assert summary.failed.get("Corrupt") == 1 and len(site.requests_for("truncated.mp4")) == 2
    for media in ("dance.mp4", "demo.mp4", "soccer.mp4"):  # behind pages: not asked for at all
        assert site.requests_for(media) == []
    for direct in ("tennis.mp4", "fake.mp4"):
        # the generic extractor reads a direct URL's headers (1 GET); a download was a 2nd GET
        assert len([r for r in first_requests if r.path == f"/{direct}"]) == 2
        assert len(site.requests_for(direct)) == 1
    archive = (root / "_state" / "download_archive.txt").read_text(encoding="utf-8")
    assert "generic tennis-" in archive and "generic fake-" in archive


def test_too_long_videos_are_rejected_after_ffprobe(site, site_dir, tmp_path: Path) -> None:
    sources = [
        UrlSource("angry", site.url("tennis.mp4")),
        LocalSource("angry", site_dir / "tennis.mp4"),
        UrlSource("angry", site.url("dance.mp4")),
    ]
    summary = crawl(sources, fast_config(tmp_path / "root", max_duration_s=5))
    assert summary.failed == {"TooLong": 2} and summary.videos_ok == 1
    too_long = [row for row in read_rows(tmp_path / "root") if row["status"] == "failed"]
    for row in too_long:
        assert row["error_kind"] == "TooLong" and "max_duration_s=5" in row["error_message"]
        assert row["duration_s"] == pytest.approx(10.45, abs=0.05) and row["media_path"] is None
    stored = [path.name for path in (tmp_path / "root" / "media").iterdir()]
    assert len(stored) == 1  # dance only


def test_file_urls_work_only_when_allowed(site_dir: Path, tmp_path: Path) -> None:
    source = UrlSource("angry", (site_dir / "demo.mp4").as_uri())
    refused = crawl([source], fast_config(tmp_path / "refused"))
    assert refused.failed == {"FileUrlDisabled": 1}
    allowed = crawl([source], fast_config(tmp_path / "allowed", allow_file_urls=True))
    assert allowed.videos_ok == 1 and allowed.failed == {}


def test_one_bad_playlist_entry_does_not_stop_the_others(site, tmp_path: Path) -> None:
    summary = crawl([UrlSource("angry", site.url("half_broken.html"))], fast_config(tmp_path))
    assert summary.videos_ok == 1 and summary.failed == {"NotFound": 1}
    [failed] = [row for row in read_rows(tmp_path) if row["status"] == "failed"]
    assert failed["extractor_id"].startswith("half_broken-1-") and "404" in failed["error_message"]


def test_same_file_names_on_different_pages_are_different_videos(site, tmp_path: Path) -> None:
    """yt-dlp names both `clip`; without the URL in the id the second would be a duplicate."""
    sources = [UrlSource("a", site.url("one/clip.mp4")), UrlSource("a", site.url("two/clip.mp4"))]
    summary = crawl(sources, fast_config(tmp_path))
    assert summary.videos_ok == 2 and summary.videos_skipped == 0
    assert len({row["video_id"] for row in read_rows(tmp_path)}) == 2


def test_transient_errors_are_retried_with_backoff(site, tmp_path: Path) -> None:
    site.clear()
    site.fail_next("demo.mp4", 503, times=1)
    site.fail_next("soccer.mp4", 503, times=5)
    sources = [UrlSource("a", site.url("demo.mp4")), UrlSource("a", site.url("soccer.mp4"))]
    try:
        summary = crawl(sources, fast_config(tmp_path, network_retries=1))
    finally:
        site.forget_failures()  # unused scripted failures must not leak into other tests
    assert summary.videos_ok == 1 and summary.failed == {"NetworkUnavailable": 1}
    assert [r.status for r in site.requests_for("demo.mp4")][:2] == [503, 200]
    assert [r.status for r in site.requests_for("soccer.mp4")] == [503, 503]  # 1 + 1 retry


def test_a_non_local_root_gets_media_through_its_filesystem(site, site_dir, tmp_path) -> None:
    root = f"memory://crawl-{uuid.uuid4().hex[:8]}/dataset"
    sources = [UrlSource("a", site.url("page.html")), LocalSource("b", site_dir / "demo.mp4")]
    config = fast_config(root, cache_dir=str(tmp_path / "cache"))
    assert crawl(sources, config).videos_ok == 2
    location = open_location(root)
    rows = read_rows(root)
    assert all(location.exists(location.join(row["media_path"])) for row in rows)
    assert len(list((tmp_path / "cache").rglob("download_archive.txt"))) == 1
    assert crawl(sources, config).shards_skipped == 2


def test_plan_ids_are_deterministic_and_per_query(tmp_path: Path) -> None:
    config = fast_config(tmp_path, shard_size=2)
    queries = [QuerySource("angry", "angry walk", 3), QuerySource("sad", "悲伤 走路", 3)]
    urls = [UrlSource("angry", f"https://example.com/{index}.mp4") for index in range(5)]
    plan = plan_crawl([*queries, *urls], config)
    assert [shard.plan.shard_id for shard in plan] == [
        shard.plan.shard_id for shard in plan_crawl([*queries, *urls], config)
    ]
    assert [len(shard.items) for shard in plan] == [1, 1, 2, 2, 1]
    more = plan_crawl([QuerySource("calm", "calm walk", 3), *queries], config)
    assert {s.plan.shard_id for s in plan[:2]} <= {s.plan.shard_id for s in more}
    assert all(shard.plan.shard_id.startswith("crawl-") for shard in plan)


def test_ydl_options_filter_duration_and_keep_file_urls_off(tmp_path: Path) -> None:
    options = build_ydl_options(fast_config(tmp_path, max_duration_s=600), tmp_path, set())
    accept = options["match_filter"]
    assert accept({"id": "a", "duration": 599}, incomplete=False) is None
    assert accept({"id": "a"}, incomplete=False) is None  # unknown: checked after the download
    assert accept({"id": "a", "duration": 601}, incomplete=False)
    assert accept({"id": "a", "duration": 60, "is_live": True}, incomplete=False)
    assert options["enable_file_urls"] is False and options["quiet"] and options["noprogress"]
    assert "sleep_interval" not in options  # 0 means off; yt-dlp needs it unset, not 0


def test_config_rejects_inconsistent_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_sleep_interval_s"):
        CrawlConfig(out_root=str(tmp_path), sleep_interval_s=5, max_sleep_interval_s=1)
    with pytest.raises(ValueError, match="positive"):
        CrawlConfig(out_root=str(tmp_path), max_duration_s=0)


def yt_dlp_failure(message: str, cause: BaseException | None = None, **extra) -> DownloadError:
    """What YoutubeDL raises for an extractor failure: a DownloadError wrapping the cause."""
    error = ExtractorError(message, cause=cause, **extra)
    return DownloadError(f"ERROR: {error}", (type(error), error, None))


def http_error(status: int) -> HTTPError:
    return HTTPError(
        Response(fp=io.BytesIO(b""), url="https://x.test/v", headers={}, status=status)
    )


@pytest.mark.parametrize(
    ("error", "searching", "kind", "transient"),
    [
        (
            yt_dlp_failure("HTTP Error 429", cause=http_error(429)),
            False,
            "NetworkUnavailable",
            True,
        ),
        (yt_dlp_failure("HTTP Error 503", cause=http_error(503)), True, "SearchUnavailable", True),
        (yt_dlp_failure("HTTP Error 410", cause=http_error(410)), False, "NotFound", False),
        (yt_dlp_failure("HTTP Error 403", cause=http_error(403)), False, "DownloadFailed", False),
        (yt_dlp_failure("Private video. Sign in", expected=True), False, "PrivateVideo", False),
        (yt_dlp_failure("Video unavailable", expected=True), False, "NotFound", False),
        (
            yt_dlp_failure("x", cause=TransportError("Read timed out.")),
            False,
            "NetworkUnavailable",
            True,
        ),
        (ValueError("something else"), False, "DownloadFailed", False),
    ],
)
def test_yt_dlp_errors_get_stable_kinds(error, searching, kind, transient) -> None:
    failure = classify_error(error, "https://x.test/v", searching=searching)
    assert (failure.kind, failure.transient) == (kind, transient)
    assert failure.message.startswith("https://x.test/v") and "please report" not in failure.message
