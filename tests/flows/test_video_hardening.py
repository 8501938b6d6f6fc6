"""The video commands and flow against hostile or careless input, on real sample footage.

A YAML alias bomb as styles file, a 0.1 s video, relative and looping paths on the command
line, a missing pose model, and a clip re-derivation that fails half-way: each must end in one
readable line or a failure row, and never lose the clips a dataset already has.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

import extract.video.ingest as video_ingest
import flows.crawl_flows as crawl_flows
from extract.video.ingest import (
    ClipShardsFailedError,
    ExtractSummary,
    VideoExtractConfig,
    derive_pending_clips,
)
from extract.video.pose_clips import CanonicaliseConfig
from extract.video.pose_model import POSE_MODEL_ENV, PoseModelError
from flows.cli import main
from storage.errors import UserInputError
from storage.shard_reader import ShardReader
from tests.extract import video_samples

NEW_SETTINGS = replace(CanonicaliseConfig(), min_segment_s=1.5)


def _cut(source: Path, path: Path, *options: str) -> Path:
    video_samples.run_ffmpeg(
        "-i", source, *options, "-an", "-c:v", "libx264", "-preset", "ultrafast", path
    )
    return path


@pytest.fixture(scope="module")
def short_video(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 6 frames (0.1 s) of tennis.mp4: a real video too short for any track."""
    folder = tmp_path_factory.mktemp("short")
    return _cut(shared_data / "video/gvhmr/tennis.mp4", folder / "tennis_6f.mp4", "-frames:v", "6")


def _nothing_crawled(root: Path) -> bool:
    """No shard under `root` (the command line may have created it, checking it is writable)."""
    return not root.exists() or not ShardReader(root).shard_ids()


def _error_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"stylemotion {command}: error: "), lines
    return lines[0]


def test_alias_bomb_styles_file_is_one_quick_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in pairwise("abcdefghi")]
    styles = tmp_path / "bomb.yaml"
    styles.write_text("\n".join(levels) + "\ndefaults: {limit: *i}\nstyles: {x: {urls: [*i]}}\n")
    started = time.monotonic()
    assert main(["crawl", str(styles), "--out", str(tmp_path / "root")]) == 2
    assert time.monotonic() - started < 2.0
    line = _error_line(capsys, "crawl")
    assert "aliases" in line and len(line) < 500
    assert _nothing_crawled(tmp_path / "root")


def test_video_too_short_for_a_track_gets_a_failure_row(
    short_video: Path, pose_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root"
    assert main(["ingest-videos", str(short_video), "--style", "x", "--out", str(root)]) == 0
    [failure] = [f for f in ShardReader(root).failures() if f.stage == "pose"]
    assert failure.error_kind == "TooShort"
    assert short_video.name in failure.message and "min_track_s" in failure.message
    pose_lines = capsys.readouterr().out.split("videos failed (pose): ")[1].splitlines()
    assert pose_lines[0] == "1" and pose_lines[1].split() == ["TooShort", "1"]


def test_relative_folder_file_and_root_are_resolved(
    short_video: Path, pose_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "in").mkdir()
    shutil.copy(short_video, tmp_path / "in" / "clip.mp4")
    monkeypatch.chdir(tmp_path)
    for argument, root in (("in", "root_v"), ("in/clip.mp4", "root_f")):
        command = ["ingest-videos", argument, "--style", "x", "--out", root, "--sleep", "0"]
        assert main(command) == 0
        [video] = video_ingest.ok_videos(ShardReader(tmp_path / root)).values()
        assert video.source_url == (tmp_path / "in" / "clip.mp4").resolve().as_uri()


def test_symlink_loop_argument_is_a_usage_error(
    short_video: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("loop").symlink_to("loop")
    assert main(["ingest-videos", "loop", "--style", "x", "--out", "root"]) == 2
    assert "loop" in _error_line(capsys, "ingest-videos")
    assert _nothing_crawled(tmp_path / "root")
    assert main(["ingest-videos", str(short_video), "--style", "x", "--out", "loop"]) == 2
    assert "loop" in _error_line(capsys, "ingest-videos")


def test_missing_pose_model_stops_before_any_crawl_or_extraction(
    short_video: Path,
    pose_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert issubclass(PoseModelError, UserInputError)
    crawled = tmp_path / "crawled"
    styles = tmp_path / "styles.yaml"
    styles.write_text(f"styles: {{x: {{local: ['{short_video}']}}}}\n")
    assert main(["crawl", str(styles), "--out", str(crawled), "--sleep", "0"]) == 0
    monkeypatch.setenv(POSE_MODEL_ENV, str(tmp_path / "absent.task"))
    capsys.readouterr()
    root = tmp_path / "root"
    assert main(["ingest-videos", str(short_video), "--style", "x", "--out", str(root)]) == 2
    assert POSE_MODEL_ENV in _error_line(capsys, "ingest-videos")
    assert _nothing_crawled(root)
    assert main(["extract", str(crawled)]) == 2
    assert POSE_MODEL_ENV in _error_line(capsys, "extract")
    assert ShardReader(crawled).shard_ids("poses") == []


@pytest.fixture(scope="module")
def two_shard_root(
    shared_data: Path, pose_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Two real videos in two pose shards, each with clips under the default settings."""
    folder = tmp_path_factory.mktemp("two")
    (folder / "dance.mp4").symlink_to(shared_data / "video/footskate_reducer/dance.mp4")
    _cut(shared_data / "video/gvhmr/tennis.mp4", folder / "tennis.mp4", "-t", "3")
    root = tmp_path_factory.mktemp("two_root") / "root"
    command = ["ingest-videos", str(folder), "--style", "x", "--out", str(root)]
    assert main([*command, "--videos-per-shard", "1", "--sleep", "0"]) == 0
    reader = ShardReader(root)
    assert len(reader.shard_ids("poses")) == 2
    assert {s.split("-")[1] for s in reader.shard_ids("clips")} == {_settings(None)}
    assert len({c.video_id for c in reader.iter_clips()}) == 2
    return root


def _settings(config: CanonicaliseConfig | None) -> str:
    return video_ingest.canonicalise_hash(config or CanonicaliseConfig())


def _copy(root: Path, tmp_path: Path) -> tuple[Path, set[str], set[str]]:
    """A private copy of `root`, its clip shard ids and its clip ids."""
    copy = tmp_path / "root"
    shutil.copytree(root, copy)
    reader = ShardReader(copy)
    return copy, set(reader.shard_ids("clips")), {c.clip_id for c in reader.iter_clips()}


def _fail_on(shard_ids: set[str], original: Callable) -> Callable:
    def derive(location, pose_shard_id, *arguments):
        if pose_shard_id in shard_ids:
            raise OSError(f"simulated failure deriving {pose_shard_id}")
        return original(location, pose_shard_id, *arguments)

    return derive


def test_failed_clip_rederivation_keeps_the_old_clips(
    two_shard_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, old_shards, old_clips = _copy(two_shard_root, tmp_path)
    first, second = ShardReader(root).shard_ids("poses")
    original = video_ingest.derive_clip_shard
    monkeypatch.setattr(video_ingest, "derive_clip_shard", _fail_on({first}, original))
    config = VideoExtractConfig(root=str(root), canonicalise=NEW_SETTINGS)
    with pytest.raises(ClipShardsFailedError, match=first):
        derive_pending_clips(config, ExtractSummary())
    reader = ShardReader(root)
    assert old_shards <= set(reader.shard_ids("clips"))  # nothing superseded
    assert old_clips <= {c.clip_id for c in reader.iter_clips()}
    new_second = video_ingest.clip_shard_id(_settings(NEW_SETTINGS), second)
    assert new_second in reader.shard_ids("clips")  # the failure did not stop the other shard
    monkeypatch.setattr(video_ingest, "derive_clip_shard", original)
    summary = derive_pending_clips(config, ExtractSummary())
    assert summary.clip_shards_written == 1 and summary.clip_shards_superseded == 2
    assert not old_shards & set(ShardReader(root).shard_ids("clips"))


@flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
def _derive_clips_flow(config: VideoExtractConfig) -> tuple[dict[str, int], dict[str, str]]:
    return crawl_flows.derive_clips(config)


def test_flow_keeps_old_clips_when_a_replacement_shard_fails(
    prefect_server: str, two_shard_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, old_shards, old_clips = _copy(two_shard_root, tmp_path)
    first, _ = ShardReader(root).shard_ids("poses")
    failing = _fail_on({first}, video_ingest.derive_clip_shard)  # the flow's tasks call it too
    monkeypatch.setattr(video_ingest, "derive_clip_shard", failing)
    totals, failed = _derive_clips_flow(VideoExtractConfig(str(root), canonicalise=NEW_SETTINGS))
    assert set(failed) == {first} and totals["clip_shards_written"] == 1
    assert totals["clip_shards_superseded"] == 0
    reader = ShardReader(root)
    assert old_shards <= set(reader.shard_ids("clips"))
    assert old_clips <= {c.clip_id for c in reader.iter_clips()}
