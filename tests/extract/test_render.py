"""Tests of `extract.rendering.render`: real ffmpeg encodes, checked with ffprobe, read by OpenCV.

The motion is the canonical rest pose (a T-pose, so the wrists are far from the body) walking
along +z with swinging legs; one test renders a real Bandai Namco BVH clip when the data is there
(`STYLEMOTION_DATA`, default /work/shared/data).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import ffmpeg
import numpy as np
import pytest

from extract.rendering.render import (
    BACKGROUND_BGR,
    CONTACT_HEADER_PX,
    RenderError,
    RenderResult,
    SkeletonPanel,
    follow_targets,
    make_camera,
    render_contact_sheet,
    render_skeleton_video,
)
from storage.skeleton import JOINT_INDEX, NUM_JOINTS, rest_positions

FPS = 30.0
NUM_FRAMES = 45
SIZE = (640, 360)
DATA_ROOT = Path(os.environ.get("STYLEMOTION_DATA", "/work/shared/data"))
WALK_BVH = DATA_ROOT / "motion" / "bandai_namco_1" / "dataset-1_walk_happy_001.bvh"


def make_walk(num_frames: int = NUM_FRAMES, fps: float = FPS, speed: float = 1.2) -> np.ndarray:
    """Rest pose walking along +z: legs swing about the hips, the body bobs; `(T, J, 3)`."""
    rest = rest_positions().astype(np.float64)  # (J, 3)
    seconds = np.arange(num_frames) / fps  # (T,)
    phase = 2.0 * np.pi * 0.9 * seconds
    motion = np.repeat(rest[None], num_frames, axis=0)  # (T, J, 3)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        hip = JOINT_INDEX[f"{side}_hip"]
        cos, sin = np.cos(sign * 0.45 * np.sin(phase)), np.sin(sign * 0.45 * np.sin(phase))
        for joint in ("knee", "ankle", "toe"):
            index = JOINT_INDEX[f"{side}_{joint}"]
            offset = rest[index] - rest[hip]  # rotate (y, z) about the hip's x axis
            motion[:, index, 1] = rest[hip, 1] + cos * offset[1] - sin * offset[2]
            motion[:, index, 2] = rest[hip, 2] + sin * offset[1] + cos * offset[2]
    motion[:, :, 2] += speed * seconds[:, None]
    motion[:, :, 1] += 0.03 * np.abs(np.sin(phase))[:, None]
    return motion.astype(np.float32)


def probe_video_stream(path: Path) -> dict:
    streams = [s for s in ffmpeg.probe(str(path))["streams"] if s["codec_type"] == "video"]
    assert len(streams) == 1
    return streams[0]


def read_frames(path: Path, indices: set[int]) -> dict[int, np.ndarray]:
    """Decode the frames at `indices` (BGR) by reading the video from the start."""
    capture = cv2.VideoCapture(str(path))
    frames: dict[int, np.ndarray] = {}
    try:
        for index in range(max(indices) + 1):
            ok, frame = capture.read()
            assert ok, f"could not decode frame {index} of {path}"
            if index in indices:
                frames[index] = frame
    finally:
        capture.release()
    return frames


def bluish(pixels: np.ndarray) -> np.ndarray:
    pixels = pixels.astype(int)
    return (pixels[..., 0] - pixels[..., 2]) > 60


def reddish(pixels: np.ndarray) -> np.ndarray:
    pixels = pixels.astype(int)
    return (pixels[..., 2] - pixels[..., 0]) > 60


def window(frame: np.ndarray, pixel: np.ndarray, radius: int = 6) -> np.ndarray:
    u, v = np.round(pixel).astype(int)
    return frame[max(v - radius, 0) : v + radius + 1, max(u - radius, 0) : u + radius + 1]


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    return make_walk()


@pytest.fixture(scope="module")
def walk_video(tmp_path_factory: pytest.TempPathFactory, walk: np.ndarray) -> RenderResult:
    out_path = tmp_path_factory.mktemp("render") / "walk.mp4"
    return render_skeleton_video([SkeletonPanel(walk, "walk")], FPS, out_path, size=SIZE)


def test_video_stream_has_frame_count_fps_size_and_codec(walk_video: RenderResult) -> None:
    assert walk_video == RenderResult(walk_video.path, NUM_FRAMES, FPS, *SIZE)
    assert walk_video.path.is_file()
    assert not list(walk_video.path.parent.glob(".*partial*"))
    stream = probe_video_stream(walk_video.path)
    assert stream["codec_name"] == "h264"
    assert (stream["width"], stream["height"]) == SIZE
    assert int(stream["nb_frames"]) == NUM_FRAMES
    assert stream["avg_frame_rate"] == "30/1"
    assert stream["pix_fmt"] == "yuv420p"


def test_left_side_is_blue_and_on_the_viewers_right(
    walk_video: RenderResult, walk: np.ndarray
) -> None:
    index = NUM_FRAMES // 2
    frame = read_frames(walk_video.path, {index})[index]
    camera = make_camera(follow_targets(walk, FPS)[index], *SIZE)
    left_wrist, right_wrist = camera.project(
        walk[index, [JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]]]
    )
    # Facing the camera, the subject's left (+x) is on the viewer's right: not mirrored.
    assert left_wrist[0] > right_wrist[0] + 50
    for wrist in (left_wrist, right_wrist):
        assert 0 <= wrist[0] < SIZE[0] and 0 <= wrist[1] < SIZE[1]
    assert bluish(window(frame, left_wrist)).sum() >= 5
    assert not reddish(window(frame, left_wrist)).any()
    assert reddish(window(frame, right_wrist)).sum() >= 5
    assert not bluish(window(frame, right_wrist)).any()


def test_subject_is_upright_and_in_frame(walk: np.ndarray) -> None:
    targets = follow_targets(walk, FPS)
    for index in range(NUM_FRAMES):
        pixels = make_camera(targets[index], *SIZE).project(walk[index])  # (J, 2)
        assert (pixels >= 0).all() and (pixels[:, 0] < SIZE[0]).all()
        assert (pixels[:, 1] < SIZE[1]).all()
        head, toe = pixels[JOINT_INDEX["head"]], pixels[JOINT_INDEX["left_toe"]]
        assert head[1] < toe[1] - 0.3 * SIZE[1]  # head well above the feet on screen


def test_frames_change_as_the_motion_moves(walk_video: RenderResult) -> None:
    frames = read_frames(walk_video.path, {0, NUM_FRAMES - 1})
    difference = np.abs(frames[0].astype(int) - frames[NUM_FRAMES - 1].astype(int))
    assert difference.mean() > 0.5
    assert (difference.max(axis=-1) > 60).sum() > 500  # limbs and grid moved, not just noise


def test_panels_render_side_by_side(tmp_path: Path, walk: np.ndarray) -> None:
    panels = [SkeletonPanel(walk, "source"), SkeletonPanel(walk[::-1].copy(), "reversed")]
    result = render_skeleton_video(panels, FPS, tmp_path / "pair.mp4", size=SIZE)
    stream = probe_video_stream(result.path)
    assert (stream["width"], stream["height"], int(stream["nb_frames"])) == (*SIZE, NUM_FRAMES)
    frame = read_frames(result.path, {0})[0]
    half = SIZE[0] // 2
    for panel in (frame[:, :half], frame[:, half:]):
        assert bluish(panel).sum() > 100 and reddish(panel).sum() > 100
    assert frame[SIZE[1] // 2, half - 1 : half + 1].mean() < 120  # dark separator


def test_mismatched_panel_lengths_name_the_panels(tmp_path: Path, walk: np.ndarray) -> None:
    panels = [SkeletonPanel(walk, "source"), SkeletonPanel(walk[:30], "stylized")]
    with pytest.raises(ValueError, match=r"'source': 45, 'stylized': 30"):
        render_skeleton_video(panels, FPS, tmp_path / "bad.mp4")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("shape", [(10, NUM_JOINTS - 1, 3), (10, NUM_JOINTS, 2), (NUM_JOINTS, 3)])
def test_wrong_shaped_positions_are_rejected(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"panel 'bad': positions must have shape \(T, 19, 3\)"):
        SkeletonPanel(np.zeros(shape, dtype=np.float32), "bad")


def test_nan_positions_and_bad_sizes_are_rejected(tmp_path: Path, walk: np.ndarray) -> None:
    broken = walk.copy()
    broken[3, 4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SkeletonPanel(broken, "broken")
    with pytest.raises(ValueError, match="even"):
        render_skeleton_video(
            [SkeletonPanel(walk, "walk")], FPS, tmp_path / "x.mp4", size=(641, 360)
        )
    with pytest.raises(ValueError, match="fps"):
        render_skeleton_video([SkeletonPanel(walk, "walk")], 0.0, tmp_path / "x.mp4")


def test_missing_ffmpeg_is_named(
    tmp_path: Path, walk: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a real PATH with no ffmpeg on it
    with pytest.raises(RenderError, match="ffmpeg was not found on PATH"):
        render_skeleton_video([SkeletonPanel(walk, "walk")], FPS, tmp_path / "walk.mp4")


def test_ffmpeg_failure_carries_its_stderr(tmp_path: Path, walk: np.ndarray) -> None:
    out_path = tmp_path / "walk.notaformat"
    with pytest.raises(RenderError, match="suitable output format") as error:
        render_skeleton_video([SkeletonPanel(walk, "walk")], FPS, out_path, size=SIZE)
    assert "exited" in str(error.value)
    assert not list(tmp_path.iterdir())  # neither the output nor its partial file is left


def test_contact_sheet_is_a_strip_of_drawn_cells(tmp_path: Path, walk: np.ndarray) -> None:
    out_png = render_contact_sheet(walk, tmp_path / "sheets" / "walk.png", title="walk")
    sheet = cv2.imread(str(out_png))
    assert sheet.shape == (320 + CONTACT_HEADER_PX, 8 * 240, 3)
    for cell in range(8):
        pixels = sheet[CONTACT_HEADER_PX:, cell * 240 : (cell + 1) * 240]
        assert bluish(pixels).sum() > 50 and reddish(pixels).sum() > 50
        assert (np.abs(pixels.astype(int) - BACKGROUND_BGR).max(axis=-1) > 30).mean() > 0.01


def test_contact_sheet_of_a_short_clip_has_one_cell_per_frame(
    tmp_path: Path, walk: np.ndarray
) -> None:
    out_png = render_contact_sheet(walk[:3], tmp_path / "short.png", num_frames=8)
    assert cv2.imread(str(out_png)).shape == (320 + CONTACT_HEADER_PX, 3 * 240, 3)


@pytest.mark.skipif(not WALK_BVH.is_file(), reason=f"{WALK_BVH} not found (set STYLEMOTION_DATA)")
def test_renders_a_real_bvh_clip(tmp_path: Path) -> None:
    from extract.mocap.bvh_import import import_bvh

    clip = import_bvh(WALK_BVH, dataset="bandai_namco_1", source_key=WALK_BVH.stem)
    panels = [SkeletonPanel(clip.positions, "walk happy")]
    result = render_skeleton_video(panels, clip.fps, tmp_path / "walk_happy.mp4", size=SIZE)
    stream = probe_video_stream(result.path)
    assert int(stream["nb_frames"]) == clip.num_frames
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", *SIZE)
    index = clip.num_frames // 2
    frame = read_frames(result.path, {index})[index]
    camera = make_camera(follow_targets(clip.positions, clip.fps)[index], *SIZE)
    pixels = camera.project(clip.positions[index])  # (J, 2)
    assert (pixels >= 0).all() and (pixels[:, 0] < SIZE[0]).all() and (pixels[:, 1] < SIZE[1]).all()
    assert bluish(window(frame, pixels[JOINT_INDEX["left_knee"]])).sum() >= 5
    assert reddish(window(frame, pixels[JOINT_INDEX["right_knee"]])).sum() >= 5
