"""Shot cuts on real footage: joins of tennis.mp4 and dance.mp4 are found, nothing else is.

The construction is real video from two sources joined with hard cuts (tennis 0-3 s, dance
0-2 s, tennis 5-8 s at 30 fps: cuts at frames 90 and 150). Each sample video alone must give
one shot. Pose extraction on the joined file must start a fresh landmarker per shot: no track
crosses a cut.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from extract.video.frames import open_video_frames
from extract.video.pose import PoseConfig, run_pose_extraction
from extract.video.shots import Shot, ShotConfig, ShotDetector, detect_shots
from tests.extract import video_samples

SAMPLES = [
    "footskate_reducer/dance.mp4",
    "gvhmr/tennis.mp4",
    "mmpose/demo.mp4",
    "mmpose/posetrack18_000001_mpiinew_test.mp4",
    "opencv_doc/vtest.avi",
    "openpose_examples/video.avi",
]


@pytest.fixture(scope="module")
def joined(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    video = shared_data / "video"
    tennis, dance = video / "gvhmr" / "tennis.mp4", video / "footskate_reducer" / "dance.mp4"
    segments = [(tennis, 0.0, 3.0), (dance, 0.0, 2.0), (tennis, 5.0, 8.0)]
    return video_samples.joined_with_cuts(segments, tmp_path_factory.mktemp("joined"))


def _shots(path: Path, config: ShotConfig | None = None) -> list[Shot]:
    with open_video_frames(path) as frames:
        return detect_shots(frames, config)


def test_cuts_land_on_the_joins(joined: tuple[Path, list[int]]) -> None:
    path, cuts = joined
    assert cuts == [90, 150]
    shots = _shots(path)
    assert len(shots) == 3, [(s.start_frame, s.end_frame) for s in shots]
    for shot, cut in zip(shots[1:], cuts, strict=True):
        assert abs(shot.start_frame - cut) <= 1
    assert shots[0].start_frame == 0 and shots[-1].end_frame == 240
    assert [shot.shot_index for shot in shots] == [0, 1, 2]


@pytest.mark.parametrize("sample", SAMPLES)
def test_no_false_cuts_inside_real_videos(shared_data: Path, sample: str) -> None:
    shots = _shots(shared_data / "video" / sample)
    assert len(shots) == 1, f"false cut(s) in {sample}: {shots}"


def test_minimum_shot_length_suppresses_early_cuts(joined: tuple[Path, list[int]]) -> None:
    path, _ = joined
    shots = _shots(path, ShotConfig(min_shot_frames=100))
    # the join at 90 comes too soon after frame 0; the one at 150 is far enough from it
    assert [(shot.start_frame, shot.end_frame) for shot in shots] == [(0, 150), (150, 240)]


def test_detector_reports_cuts_as_they_happen() -> None:
    detector = ShotDetector(ShotConfig(min_shot_frames=2))
    dark = np.full((72, 128, 3), 30, np.uint8)  # (H, W, 3)
    bright = np.full((72, 128, 3), (200, 180, 40), np.uint8)
    flags = [detector.update(frame) for frame in [dark] * 4 + [bright] * 4]
    assert flags == [False] * 4 + [True] + [False] * 3
    assert [shot.frames for shot in detector.shots] == [range(0, 4), range(4, 8)]


def test_pose_tracks_never_cross_a_cut(
    joined: tuple[Path, list[int]], shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = shared_data.parent / "models" / "pose_landmarker_full.task"
    monkeypatch.setenv("STYLEMOTION_POSE_MODEL", str(model))
    path, _ = joined
    extraction = run_pose_extraction(path, "joined", PoseConfig())
    assert len(extraction.shots) == 3 and extraction.num_frames == 240
    assert {track.shot_index for track in extraction.tracks} == {0, 1, 2}
    for track in extraction.tracks:
        shot = extraction.shots[track.shot_index]
        assert shot.start_frame <= track.start_frame
        assert track.start_frame + track.num_frames <= shot.end_frame
        assert track.coverage > 0.9  # one clear person in every shot
