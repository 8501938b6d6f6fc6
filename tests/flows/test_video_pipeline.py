"""The video path end to end on real footage: loopback crawl -> MediaPipe -> clips, and resume.

yt-dlp fetches real videos from a loopback HTTP server, MediaPipe runs on them, and the clips
that come out must be humanly plausible. A real process kill in the middle of extraction must
resume to the same dataset as an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import ffmpeg
import numpy as np
import pytest

from extract.video.ingest import ExtractSummary, VideoExtractConfig, derive_pending_clips
from extract.video.pose_clips import CanonicaliseConfig
from flows.cli import main
from storage.shard_reader import ShardReader
from storage.skeleton import JOINT_INDEX, bone_lengths
from storage.video_schema import table_to_tracks
from tests.extract.loopback_http import serve_directory

PAGE = "<html><body><video src='{src}' controls></video></body></html>"


@pytest.fixture(scope="module")
def site_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    (folder / "tennis.mp4").symlink_to(shared_data / "video/gvhmr/tennis.mp4")
    (folder / "dance.mp4").symlink_to(shared_data / "video/footskate_reducer/dance.mp4")
    (folder / "page.html").write_text(PAGE.format(src="dance.mp4"))
    (folder / "fake.mp4").write_text("not a video\n" * 50)
    return folder


@pytest.fixture(scope="module")
def pipeline_root(site_dir: Path, pose_model: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("video") / "dataset"
    with serve_directory(site_dir) as site:
        urls = [site.url(name) for name in ("tennis.mp4", "page.html", "fake.mp4", "gone.mp4")]
        styles = site_dir.parent / "styles.yaml"
        styles.write_text("styles:\n  energetic:\n    urls: " + json.dumps(urls) + "\n")
        assert main(["crawl", str(styles), "--out", str(root), "--sleep", "0"]) == 0
    assert main(["extract", str(root)]) == 0
    return root


def test_crawl_and_extract_give_plausible_clips(pipeline_root: Path, capsys) -> None:
    reader = ShardReader(pipeline_root)
    clips = list(reader.iter_clips())
    assert {c.style for c in clips} == {"energetic"} and len(clips) >= 2
    tracks = {t.track_id: t for t in table_to_tracks(reader.dataset("poses").to_table())}
    for clip in clips:
        assert clip.source_kind == "video" and clip.trajectory_source == "estimated-static-camera"
        pelvis = float(np.median(clip.positions[:, JOINT_INDEX["pelvis"], 1]))
        thigh = float(np.median(bone_lengths(clip.positions)[:, JOINT_INDEX["left_knee"] - 1]))
        assert 0.8 <= pelvis <= 1.2 and 0.3 <= thigh <= 0.6, (clip.source_uri, pelvis, thigh)
        assert tracks[clip.pose_track_id].coverage > 0.8  # pose found on most frames
    capsys.readouterr()
    assert main(["inspect", str(pipeline_root), "--json"]) == 0
    videos = json.loads(capsys.readouterr().out)["videos"]
    assert videos["videos_ok"] == 2 and videos["clips"] == len(clips)
    assert videos["videos_failed_by_kind"] == {"NotAVideo": 1, "NotFound": 1}


def test_rerun_extracts_nothing_and_new_settings_rederive_clips(pipeline_root: Path) -> None:
    before = ShardReader(pipeline_root).shard_ids("poses")
    assert main(["extract", str(pipeline_root)]) == 0
    assert ShardReader(pipeline_root).shard_ids("poses") == before
    config = VideoExtractConfig(
        root=str(pipeline_root), canonicalise=replace(CanonicaliseConfig(), min_segment_s=1.5)
    )
    summary = derive_pending_clips(config, ExtractSummary())
    assert summary.clip_shards_written == len(before) == summary.clip_shards_superseded
    assert ShardReader(pipeline_root).shard_ids("poses") == before  # MediaPipe not re-run


def test_overlay_render_of_a_video_clip(pipeline_root: Path, tmp_path: Path) -> None:
    clip = next(ShardReader(pipeline_root).iter_clips())
    out = tmp_path / "overlay.mp4"
    assert main(["render", str(pipeline_root), clip.clip_id, str(out), "--overlay"]) == 0
    stream = ffmpeg.probe(str(out))["streams"][0]
    assert int(stream["nb_frames"]) == clip.num_frames and stream["codec_name"] == "h264"


def _fingerprint(root: Path) -> dict[str, tuple[int, float]]:
    return {
        c.clip_id: (c.num_frames, round(float(c.positions.mean()), 4))
        for c in ShardReader(root).iter_clips()
    }


def _ingest(folder: Path, root: Path) -> list[str]:
    cli = str(Path(sys.executable).with_name("stylemotion"))
    return [
        cli,
        "ingest-videos",
        str(folder),
        "--style",
        "x",
        "--out",
        str(root),
        "--videos-per-shard",
        "1",
        "--sleep",
        "0",
    ]


def test_kill_mid_extraction_and_resume(
    shared_data: Path, pose_model: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    for relative in ("gvhmr/tennis.mp4", "footskate_reducer/dance.mp4", "mmpose/demo.mp4"):
        (folder / Path(relative).name).symlink_to(shared_data / "video" / relative)
    env = {**os.environ, "STYLEMOTION_POSE_MODEL": str(pose_model)}
    reference = tmp_path / "reference"
    subprocess.run(_ingest(folder, reference), check=True, capture_output=True, env=env)
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        _ingest(folder, killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        if len(ShardReader(killed).shard_ids("poses")) >= 1:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    assert process.wait() == -signal.SIGKILL, "extraction finished before it could be killed"
    assert (
        1
        <= len(ShardReader(killed).shard_ids("poses"))
        < len(ShardReader(reference).shard_ids("poses"))
    )
    subprocess.run(_ingest(folder, killed), check=True, capture_output=True, env=env)
    assert _fingerprint(killed) == _fingerprint(reference)
    assert len(ShardReader(killed).failures()) == len(ShardReader(reference).failures())
