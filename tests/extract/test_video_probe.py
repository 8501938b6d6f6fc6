"""Probing and normalised decoding on the real sample videos, and every kind of bad input.

The bad files are made from the real videos (tests/extract/video_samples.py): a download cut
short, a text file named .mp4, audio only, one frame, a 1280x40 sliver, a thumbnail-sized
video, an empty file, a missing path and a directory.
"""

from __future__ import annotations

import csv
import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from extract.video.frames import NormaliseConfig, open_video_frames, plan_normalisation
from extract.video.probe import (
    CorruptVideoError,
    ExtremeAspectError,
    NotAVideoError,
    TooShortError,
    TooSmallError,
    UnreadableError,
    VideoError,
    VideoLimits,
    probe_video,
)
from tests.extract import video_samples


@pytest.fixture(scope="module")
def video_dir(shared_data: Path) -> Path:
    return shared_data / "video"


@pytest.fixture(scope="module")
def tennis(video_dir: Path) -> Path:
    return video_dir / "gvhmr" / "tennis.mp4"


def test_probe_matches_the_index(shared_data: Path, video_dir: Path) -> None:
    with (video_dir / "INDEX.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6
    for row in rows:
        info = probe_video(video_dir / row["path"])
        assert (info.width, info.height) == (int(row["width"]), int(row["height"])), row
        assert info.num_frames == int(row["frames"]), row
        assert info.fps == pytest.approx(float(row["fps"]), abs=0.01), row
        assert info.duration_s == pytest.approx(float(row["duration_s"]), abs=0.05), row
        assert info.codec in {"h264", "mpeg4", "msmpeg4v3"} and info.rotation == 0, row


def test_probe_sees_audio(video_dir: Path) -> None:
    assert probe_video(video_dir / "openpose_examples" / "video.avi").has_audio
    assert not probe_video(video_dir / "gvhmr" / "tennis.mp4").has_audio


def _expect(error_type: type[VideoError], kind: str, path: Path, **probe_kwargs: object) -> str:
    with pytest.raises(error_type) as caught:
        probe_video(path, **probe_kwargs)
    assert caught.value.kind == kind
    assert str(path) in str(caught.value), "the message must name the file"
    return str(caught.value)


def test_truncated_download_is_corrupt(tennis: Path, tmp_path: Path) -> None:
    # tennis.mp4 keeps its index (moov) at the end, so a cut copy has none.
    path = video_samples.truncated_copy(tennis, tmp_path / "tennis_cut.mp4", 1_000_000)
    message = _expect(CorruptVideoError, "Corrupt", path)
    assert "moov atom not found" in message  # ffprobe's own words travel with the error


def test_header_only_and_empty_files_are_corrupt(tennis: Path, tmp_path: Path) -> None:
    _expect(
        CorruptVideoError, "Corrupt", video_samples.truncated_copy(tennis, tmp_path / "h.mp4", 100)
    )
    empty = tmp_path / "empty.mp4"
    empty.touch()
    assert "empty" in _expect(CorruptVideoError, "Corrupt", empty)


def test_text_file_named_mp4_is_not_a_video(tmp_path: Path) -> None:
    _expect(NotAVideoError, "NotAVideo", video_samples.text_file(tmp_path))


@pytest.mark.parametrize("suffix", [".m4a", ".mp4"])
def test_audio_only_is_not_a_video(tmp_path: Path, suffix: str) -> None:
    message = _expect(NotAVideoError, "NotAVideo", video_samples.audio_only(tmp_path, suffix))
    assert "audio only" in message


def test_one_frame_video_is_too_short(tennis: Path, tmp_path: Path) -> None:
    path = video_samples.one_frame(tennis, tmp_path)
    assert "1 frame" in _expect(TooShortError, "TooShort", path)
    assert probe_video(path, VideoLimits(min_frames=1)).num_frames == 1  # the limit is a setting


def test_extreme_aspect_ratio(video_dir: Path, tmp_path: Path) -> None:
    path = video_samples.cropped(
        video_dir / "footskate_reducer" / "dance.mp4", tmp_path, 1280, 40, "sliver"
    )
    assert "32.0:1" in _expect(ExtremeAspectError, "ExtremeAspect", path)


def test_too_small(tennis: Path, tmp_path: Path) -> None:
    path = video_samples.scaled(tennis, tmp_path, 56, 50, "thumbnail")
    assert "56x50" in _expect(TooSmallError, "TooSmall", path)


def test_unreadable_paths(tmp_path: Path) -> None:
    assert "no such file" in _expect(UnreadableError, "Unreadable", tmp_path / "missing.mp4")
    assert "directory" in _expect(UnreadableError, "Unreadable", tmp_path)


def test_permission_denied_is_unreadable(tennis: Path) -> None:
    """A real permission failure: as root the probe runs as `nobody` (setpriv), else as is."""
    base = Path(tempfile.mkdtemp(prefix="stylemotion-probe-"))
    try:
        path = video_samples.truncated_copy(tennis, base / "locked.mp4", 10_000)
        path.chmod(0)
        base.chmod(0o777)
        code = (
            "import sys\nfrom extract.video.probe import VideoError, probe_video\n"
            f"try:\n    probe_video({str(path)!r})\n"
            "except VideoError as error:\n    print(error.kind, error)\n    sys.exit(3)\n"
        )
        command = [sys.executable, "-c", code]
        if os.geteuid() == 0:
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=base, timeout=60)
        assert result.returncode == 3, result.stderr
        assert result.stdout.startswith("Unreadable") and "permission" in result.stdout.lower()
        assert "locked.mp4" in result.stdout
    finally:
        shutil.rmtree(base)


def test_video_errors_survive_pickling(tmp_path: Path) -> None:
    """Errors cross process pools intact (kind, path, ffmpeg's words)."""
    with pytest.raises(VideoError) as caught:
        probe_video(video_samples.text_file(tmp_path))
    restored = pickle.loads(pickle.dumps(caught.value))
    assert type(restored) is NotAVideoError and str(restored) == str(caught.value)


# --- normalised decoding -------------------------------------------------------------------


def test_plan_keeps_aspect_even_sides_and_slow_sources(video_dir: Path) -> None:
    vtest = probe_video(video_dir / "opencv_doc" / "vtest.avi")
    plan = plan_normalisation(vtest, NormaliseConfig(max_long_side=500))
    assert (plan.width, plan.height) == (500, 376)  # 768x576 scaled, rounded to even sides
    assert plan.fps == 10.0, "a 10 fps source keeps its rate instead of repeated frames"
    assert plan_normalisation(vtest, NormaliseConfig(upsample=True)).fps == 30.0
    tennis = probe_video(video_dir / "gvhmr" / "tennis.mp4")  # 29.83 fps average
    assert plan_normalisation(tennis, NormaliseConfig()).fps == 30.0
    assert not plan_normalisation(tennis, NormaliseConfig()).capped


def test_decode_streams_rgb_frames_at_the_target_rate(video_dir: Path) -> None:
    path = video_dir / "openpose_examples" / "video.avi"  # 1280x720, 50 fps, 4.1 s
    with open_video_frames(path, NormaliseConfig(max_long_side=640)) as frames:
        count = 0
        for frame in frames:
            assert frame.shape == (360, 640, 3) and frame.dtype == np.uint8
            count += 1
        assert frames.plan.fps == 30.0
    assert count == frames.frames_read == 123  # 4.1 s at 30 fps
    assert frame.mean() > 20  # real picture content, not an empty buffer


def test_duration_cap_is_applied_and_logged(
    video_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = video_dir / "opencv_doc" / "vtest.avi"
    with (
        caplog.at_level(logging.WARNING),
        open_video_frames(path, NormaliseConfig(max_duration_s=2)) as frames,
    ):
        count = sum(1 for _ in frames)
        assert frames.plan.capped
    assert count == 20
    assert any("only the first 2.0 s" in record.getMessage() for record in caplog.records)


def test_decode_error_midway_raises_after_the_good_frames(tennis: Path, tmp_path: Path) -> None:
    path = video_samples.faststart_truncated(tennis, tmp_path)
    probe_video(path)  # the index is intact: only decoding can notice
    good = 0
    with pytest.raises(CorruptVideoError) as caught, open_video_frames(path) as frames:
        for _ in frames:
            good += 1
    assert 50 < good < 312
    assert str(path) in str(caught.value) and f"after {good} frames" in str(caught.value)
    assert caught.value.stderr_tail, "ffmpeg's stderr tail must travel with the error"


def test_stopping_early_is_not_an_error(tennis: Path) -> None:
    with open_video_frames(tennis) as frames:
        for index, _ in enumerate(frames):
            if index == 5:
                break
        process = frames._process
    assert process.poll() is not None, "leaving the block must stop ffmpeg"
