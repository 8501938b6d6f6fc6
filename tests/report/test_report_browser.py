"""The report opened from disk in a real browser: Debian's headless chromium (`/usr/bin/chromium`).

The page is built from real artefacts (tests/report/artefacts.py: real Bandai BVH clips rendered
to H.264 previews by the project's renderer, PNG plots drawn by the project's plotters, a real
evaluate report). A copy of `index.html` beside it, with a checking script appended, is loaded
with `--dump-dom`; the script waits until every image and video has loaded (or failed) and
writes what it found into the DOM: every `<img>` decoded (`naturalWidth > 0`), every `<video>`
decoded its first frame (`readyState >= 2`, a duration and a frame size, no media error), and
every resource came from the report's folder. The page itself is then screenshotted. Skipped,
with the reason, where chromium is not installed (`apt-get install chromium`); selected with
`pytest -m browser`.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import ffmpeg
import pytest

from flows.report.build import write_report
from tests.report.artefacts import JOB_RUNS, PREVIEW_SIZE
from tests.report.page_references import broken_references, read_page

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason=f"{CHROMIUM} not installed (Debian: apt-get install chromium)",
    ),
]
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--mute-audio", "--hide-scrollbars",
)  # fmt: skip
CHECK_ID = "report-check"
# Appended to a copy of the page: wait for every image and video, then write the findings.
CHECK_SCRIPT = """
<script>
(function () {
  const images = Array.from(document.images);
  const videos = Array.from(document.querySelectorAll("video"));
  videos.forEach(function (v) { v.preload = "auto"; v.load(); });
  function settled() {
    return images.every(function (i) { return i.complete; }) &&
      videos.every(function (v) { return v.error || v.readyState >= 2; });
  }
  function report() {
    const out = {
      images: images.map(function (i) {
        return {src: i.getAttribute("src"), width: i.naturalWidth, complete: i.complete};
      }),
      videos: videos.map(function (v) {
        return {src: v.getAttribute("src"), readyState: v.readyState, duration: v.duration,
                width: v.videoWidth, height: v.videoHeight, error: v.error && v.error.code};
      }),
      h264: document.createElement("video").canPlayType('video/mp4; codecs="avc1.64001f"'),
      resources: performance.getEntriesByType("resource").map(function (r) { return r.name; }),
      links: Array.from(document.querySelectorAll("[src], [href]")).map(function (e) {
        return e.src || e.href;
      }),
      page: location.href
    };
    const pre = document.createElement("pre");
    pre.id = "report-check";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  let tries = 0;
  (function wait() {
    if (settled() || tries++ > 200) { report(); } else { setTimeout(wait, 50); }
  })();
})();
</script>
"""


def _chromium(profile: Path, *arguments: str) -> subprocess.CompletedProcess:
    command = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def _browser_findings(index: Path, profile: Path) -> dict:
    checked = index.with_name("index.check.html")
    page = index.read_text(encoding="utf-8")
    checked.write_text(page.replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8")
    try:
        result = _chromium(profile, "--virtual-time-budget=20000", "--dump-dom", checked.as_uri())
    finally:
        checked.unlink()
    found = re.search(rf'<pre id="{CHECK_ID}">(.*?)</pre>', result.stdout, re.DOTALL)
    assert found, f"the check never reported; chromium said:\n{result.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture(scope="module")
def report(job: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "report"
    return write_report(job, JOB_RUNS, out).index


def test_the_renderer_writes_h264_previews(job: Path) -> None:
    for preview in sorted((job / "stylized" / "previews").glob("*.mp4")):
        (stream,) = [s for s in ffmpeg.probe(str(preview))["streams"] if s["codec_type"] == "video"]
        assert stream["codec_name"] == "h264" and stream["pix_fmt"] == "yuv420p"


def test_every_image_and_video_loads_from_disk_in_chromium(report: Path, tmp_path: Path) -> None:
    assert broken_references(report, read_page(report)) == []
    findings = _browser_findings(report, tmp_path / "profile")
    assert len(findings["images"]) == 2 and len(findings["videos"]) == 2
    for image in findings["images"]:
        assert image["complete"] and image["width"] > 0, image
    for video in findings["videos"]:  # H.264 decodes: Debian's chromium has the codec
        assert video["error"] is None and video["readyState"] >= 2, video
        assert video["duration"] > 0 and (video["width"], video["height"]) == PREVIEW_SIZE, video
    assert findings["h264"] in ("probably", "maybe")
    folder = report.parent.resolve().as_uri() + "/"
    urls = findings["links"] + findings["resources"]
    assert len(findings["links"]) >= 4  # resolved by the browser: absolute file:// URLs
    outside = [url for url in urls if not url.startswith(folder)]
    assert outside == [], "the page refers to something outside its folder"


def test_the_check_sees_a_broken_image_and_video(report: Path, tmp_path: Path) -> None:
    copy = tmp_path / "report"
    shutil.copytree(report.parent, copy)
    for name in ("*.png", "*.mp4"):
        damaged = sorted((copy / "assets").glob(name))[0]
        damaged.write_bytes(b"not a picture, not a video" * 10)
    findings = _browser_findings(copy / "index.html", tmp_path / "profile")
    assert sorted(image["width"] for image in findings["images"])[0] == 0
    assert any(video["error"] is not None for video in findings["videos"])


def test_a_screenshot_of_the_page(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    result = _chromium(
        tmp_path / "profile",
        "--window-size=1280,2400",
        "--virtual-time-budget=10000",
        f"--screenshot={shot}",
        report.as_uri(),
    )
    assert shot.is_file(), result.stderr[-2000:]
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    assert (width, height) == (1280, 2400) and shot.stat().st_size > 50_000
    kept = Path(report).parent.parent / "report-screenshot.png"
    shutil.copy(shot, kept)  # beside the report in the session's temp dir, for a look
