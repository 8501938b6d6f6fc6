"""Canonicalisation of pose tracks (`extract.video.pose_clips`) on a controlled construction.

No MediaPipe: real Bandai Namco walks are turned into the 33 MediaPipe landmarks (face, hands
and heels placed around the canonical joints), seen by a known static pinhole camera a few
metres in front of the walker (hip-centred world landmarks in MediaPipe's y-down axes, image
landmarks by projection), with noise and dropouts, and the recovered clips are compared with
the truth the construction started from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, lfilter

from extract.mocap.bvh_import import import_bvh, resample_positions
from extract.video.pose_cleaning import fill_gaps, find_segments, smooth_zero_phase
from extract.video.pose_clips import DEFAULT_CONFIG, EXTRACTOR, track_to_clips
from extract.video.pose_trajectory import focal_length_pixels
from storage.canonical import (
    facing_directions,
    facing_yaw,
    place_in_canonical_frame,
    rotation_about_y,
)
from storage.joint_maps import MEDIAPIPE_33, MEDIAPIPE_LANDMARK_NAMES, apply_joint_map
from storage.records import SourceKind, TrajectorySource, make_clip_id
from storage.skeleton import FOOT_JOINTS, JOINT_INDEX, bone_lengths
from storage.video_records import PoseTrack

logger = logging.getLogger(__name__)

WIDTH, HEIGHT, FPS = 1280, 720, 30.0
SOURCE = "tracks/walk.mp4"
LANDMARK = {name: index for index, name in enumerate(MEDIAPIPE_LANDMARK_NAMES)}
FEET = [JOINT_INDEX[name] for name in FOOT_JOINTS]
UP = np.array([0.0, 1.0, 0.0])


def landmarks_from_joints(joints: np.ndarray) -> np.ndarray:
    """A plausible MediaPipe landmark set `(T, 33, 3)` around canonical joints `(T, 19, 3)`."""
    joint = {name: joints[:, index] for name, index in JOINT_INDEX.items()}
    forward_xz = facing_directions(joints)  # (T, 2)
    zeros = np.zeros(len(joints))
    forward = np.stack([forward_xz[:, 0], zeros, forward_xz[:, 1]], axis=-1)  # (T, 3)
    left = np.cross(UP, forward)
    head = joint["head"]
    points = {"nose": head + 0.06 * UP + 0.11 * forward}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
            points[f"{side}_{part}"] = joint[f"{side}_{part}"]
        ankle, toe, wrist = joint[f"{side}_ankle"], joint[f"{side}_toe"], joint[f"{side}_wrist"]
        points[f"{side}_foot_index"] = toe
        points[f"{side}_heel"] = ankle - 0.3 * (toe - ankle) - 0.03 * UP
        hand = wrist - joint[f"{side}_elbow"]
        hand = hand / np.linalg.norm(hand, axis=-1, keepdims=True)
        points[f"{side}_index"] = wrist + 0.09 * hand + 0.02 * forward
        points[f"{side}_pinky"] = wrist + 0.08 * hand - 0.02 * forward
        points[f"{side}_thumb"] = wrist + 0.05 * hand + 0.03 * forward
        points[f"{side}_ear"] = head + 0.04 * UP + sign * 0.075 * left
        points[f"mouth_{side}"] = head + 0.02 * UP + 0.09 * forward + sign * 0.025 * left
        for suffix, across in (("_inner", 0.015), ("", 0.035), ("_outer", 0.05)):
            points[f"{side}_eye{suffix}"] = head + 0.09 * UP + 0.09 * forward + sign * across * left
    return np.stack([points[name] for name in MEDIAPIPE_LANDMARK_NAMES], axis=1)


@dataclass(frozen=True)
class Camera:
    """A static, level pinhole camera: rows of `rotation` are its x right, y down, z forward."""

    position: np.ndarray  # (3,) y-up world
    rotation: np.ndarray  # (3, 3)
    focal: float = focal_length_pixels(WIDTH, HEIGHT, DEFAULT_CONFIG.field_of_view_deg)

    @classmethod
    def looking_at(cls, position: tuple[float, ...], target: tuple[float, ...]) -> Camera:
        forward = np.asarray(target, dtype=float) - position
        forward[1] = 0.0  # level
        forward /= np.linalg.norm(forward)
        rotation = np.stack([np.cross(forward, UP), -UP, forward])
        return cls(np.asarray(position, dtype=float), rotation)


def make_track(
    points: np.ndarray,
    camera: Camera,
    *,
    seed: int = 0,
    dropouts: tuple[tuple[int, int], ...] = (),
    world_noise_m: tuple[float, float, float] = (0.006, 0.006, 0.012),
    visibility: float = 0.92,
    start_frame: int = 0,
    fps: float = FPS,
) -> PoseTrack:
    """What MediaPipe would report for landmarks `points` `(T, 33, 3)` seen by `camera`."""
    rng = np.random.default_rng(seed)
    hips = points[:, [LANDMARK["left_hip"], LANDMARK["right_hip"]]].mean(axis=1, keepdims=True)
    world = (points - hips) @ camera.rotation.T  # (T, 33, 3): x right, y down, z away
    world = world + rng.normal(0.0, world_noise_m, world.shape)
    in_camera = (points - camera.position) @ camera.rotation.T  # (T, 33, 3)
    pixels = camera.focal * in_camera[..., :2] / in_camera[..., 2:] + [WIDTH / 2, HEIGHT / 2]
    pixels = pixels + rng.normal(0.0, 1.5, pixels.shape)
    relative_depth = (in_camera[..., 2:] - in_camera[:, 23:25, 2:].mean(axis=1, keepdims=True)) / 3
    image = np.concatenate([pixels / [WIDTH, HEIGHT], relative_depth], axis=-1)
    seen = np.clip(visibility + rng.normal(0.0, 0.03, points.shape[:2]), 0.0, 1.0)
    detected = np.ones(len(points), dtype=bool)
    for start, stop in dropouts:
        detected[start:stop] = False
    arrays = [world, image, seen, np.full(seen.shape, 0.99)]
    world, image, seen, presence = (np.where(_frames(detected, a), a, 0.0) for a in arrays)
    f32 = np.float32
    return PoseTrack(
        "walk-0", "walk", 1, 2, start_frame, fps, WIDTH, HEIGHT, world.astype(f32),
        image.astype(f32), seen.astype(f32), presence.astype(f32), detected, "construction",
        "0" * 64, "test",
    )  # fmt: skip


def _frames(mask: np.ndarray, like: np.ndarray) -> np.ndarray:
    return mask.reshape(-1, *([1] * (like.ndim - 1)))


def to_clips(track: PoseTrack, **config_changes: object):
    config = replace(DEFAULT_CONFIG, **config_changes)
    return track_to_clips(
        track, style="happy", source_uri=SOURCE, dataset="construction", licence="test",
        config=config,
    )  # fmt: skip


@pytest.fixture(scope="module")
def walks(shared_data: Path) -> dict[str, np.ndarray]:
    """Landmarks `(T, 33, 3)` of a straight walk and a walk to the left (diagonal)."""
    folder = shared_data / "motion" / "bandai_namco_1"
    names = {"forward": "dataset-1_walk_happy_001", "left": "dataset-1_walk-left_happy_001"}
    clips = {
        key: import_bvh(folder / f"{name}.bvh", dataset="bandai", source_key=name)
        for key, name in names.items()
    }
    return {key: landmarks_from_joints(clip.positions.astype(float)) for key, clip in clips.items()}


def truth_of(points: np.ndarray) -> np.ndarray:
    """Ground-truth canonical positions `(T, 19, 3)`: the landmarks through the same map."""
    joints = apply_joint_map(MEDIAPIPE_LANDMARK_NAMES, points, MEDIAPIPE_33)
    return place_in_canonical_frame(joints).astype(float)


def align_yaw(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """`estimate` `(T, J, 3)` turned about y and shifted to best fit `truth` (least squares)."""
    centred, target = estimate - estimate.mean(axis=(0, 1)), truth - truth.mean(axis=(0, 1))
    cross = (target[..., 0] * centred[..., 2] - target[..., 2] * centred[..., 0]).sum()
    dot = (target[..., 0] * centred[..., 0] + target[..., 2] * centred[..., 2]).sum()
    turned = centred @ rotation_about_y(float(np.arctan2(cross, dot))).T
    return turned + truth.mean(axis=(0, 1))


def lag_of(signal: np.ndarray, reference: np.ndarray, max_lag: int = 10) -> int:
    """Frame lag with the highest cross-correlation of two `(T,)` signals (positive = late)."""
    size = len(signal)

    def correlation(lag: int) -> float:
        late = signal[max(lag, 0) : size + min(lag, 0)]
        return float(np.corrcoef(late, reference[max(-lag, 0) : size - max(lag, 0)])[0, 1])

    return max(range(-max_lag, max_lag + 1), key=correlation)


def travel_heading_deg(positions: np.ndarray) -> float:
    """Direction of the pelvis' overall travel, degrees about +y from +z (0 = straight ahead)."""
    step = positions[-1, 0] - positions[0, 0]
    return float(np.degrees(np.arctan2(step[0], step[2])))


CAMERAS = {  # a few metres in front of where each walk ends, looking back along the path
    "forward": Camera.looking_at((-0.6, 1.0, 13.5), (-0.4, 1.0, 0.0)),
    "left": Camera.looking_at((2.5, 1.1, 8.5), (0.0, 1.1, 0.0)),
}
DROPOUTS = ((30, 33), (77, 83), (140, 141), (118, 124))


@pytest.mark.parametrize("walk", ["forward", "left"])
def test_construction_is_recovered(walks: dict[str, np.ndarray], walk: str) -> None:
    points = walks[walk]
    track = make_track(points, CAMERAS[walk], dropouts=DROPOUTS)
    clips, failures = to_clips(track)
    assert failures == [] and len(clips) == 1
    clip, truth = clips[0], truth_of(points)
    assert clip.num_frames == len(truth) and clip.fps == 30.0
    assert clip.trajectory_source is TrajectorySource.ESTIMATED and clip.extractor == EXTRACTOR
    assert clip.source_kind is SourceKind.VIDEO and clip.style == "happy"
    assert clip.clip_id == make_clip_id("video", "walk", 1, 2, 0) and clip.track_index == 2
    estimate = clip.positions.astype(float)
    aligned = align_yaw(estimate, truth)
    joint_error = np.linalg.norm(aligned - truth, axis=-1).mean()
    pose_error = np.linalg.norm(
        (estimate - estimate[:, :1]) - (truth - truth[:, :1]), axis=-1
    ).mean()
    travel, true_travel = (
        np.linalg.norm(p[-1, 0, [0, 2]] - p[0, 0, [0, 2]]) for p in (estimate, truth)
    )
    logger.warning(
        "%s walk: mean joint error %.3f m aligned, %.3f m pelvis-relative; travel %.2f vs %.2f m",
        walk, joint_error, pose_error, travel, true_travel,
    )  # fmt: skip
    assert joint_error < 0.12 and pose_error < 0.04
    assert abs(travel - true_travel) < 0.15 * true_travel
    lengths = bone_lengths(estimate)  # (T, 18): constant, human
    assert lengths.std(axis=0).max() < 1e-4
    assert np.abs(lengths[0] - bone_lengths(truth).mean(axis=0)).max() < 0.02
    lowest_foot = estimate[:, FEET, 1].min(axis=1)
    assert abs(np.median(lowest_foot) - np.median(truth[:, FEET, 1].min(axis=1))) < 0.04
    assert abs(np.median(estimate[:, 0, 1]) - np.median(truth[:, 0, 1])) < 0.04
    # Facing at frame 0 is one noisy frame's (storage.canonical): a few degrees off the truth.
    assert abs(facing_yaw(estimate)[:10].mean()) < np.radians(15)
    assert estimate[0, JOINT_INDEX["left_hip"], 0] > estimate[0, JOINT_INDEX["right_hip"], 0]
    heading, true_heading = (travel_heading_deg(p) for p in (estimate, truth))
    assert abs(heading - true_heading) < 15.0, (heading, true_heading)
    ankle = JOINT_INDEX["left_ankle"]
    assert lag_of(aligned[:, ankle, 1], truth[:, ankle, 1]) == 0
    interpolated = ~track.detected
    assert clip.confidence[interpolated].max() < 0.6 < clip.confidence[~interpolated].min()


def test_long_dropout_splits_the_track(walks: dict[str, np.ndarray]) -> None:
    track = make_track(walks["forward"], CAMERAS["forward"], dropouts=((100, 130),), start_frame=40)
    clips, failures = to_clips(track)
    assert failures == [] and [clip.num_frames for clip in clips] == [100, 83]
    assert [clip.start_time_s for clip in clips] == [40 / 30, 170 / 30]
    assert clips[1].clip_id == make_clip_id("video", "walk", 1, 2, 130) != clips[0].clip_id


def _leg_stretched(points: np.ndarray, frames: slice, factor: float) -> np.ndarray:
    """Landmarks with the left leg `factor` times longer (about the left hip) in `frames`."""
    stretched = points.copy()
    hip = points[frames, LANDMARK["left_hip"]][:, None]
    leg = [LANDMARK[f"left_{part}"] for part in ("knee", "ankle", "heel", "foot_index")]
    stretched[frames, leg] = hip + factor * (points[frames][:, leg] - hip)
    return stretched


def _bad_second_half(points: np.ndarray, kind: str) -> PoseTrack:
    """A track whose frames 0-89 are fine and whose frames 120-212 fail in the way `kind` says."""
    gap = ((90, 170),) if kind == "TooShort" else ((90, 120),)
    if kind == "ImplausibleBones":
        points = _leg_stretched(points, slice(120, None), 1.6)
    track = make_track(points, CAMERAS["forward"], dropouts=gap, start_frame=40)
    bad = slice(120, None)
    if kind == "Jittery":
        world = track.world_landmarks.copy()
        world[bad] += np.random.default_rng(1).normal(0.0, 0.05, world[bad].shape)
        track = replace(track, world_landmarks=world.astype(np.float32))
    if kind == "LowVisibility":
        visibility = track.visibility.copy()
        visibility[bad] = 0.6
        track = replace(track, visibility=visibility)
    return track


@pytest.mark.parametrize(
    ("kind", "detail"),
    [
        ("TooShort", "video frames 210-252 (track frames 170-212, 1.43 s): "
                     "duration 1.43 s < min_segment_s 2.00 s"),
        ("LowVisibility", "video frames 160-252 (track frames 120-212, 3.10 s): "
                          "mean visibility 0.60 < min_mean_visibility 0.70"),
        ("Jittery", "m > max_jitter_m 0.025 m"),
        ("ImplausibleBones", "left/right asymmetry 46% of left_hip-left_knee"),
    ],
)  # fmt: skip
def test_bad_segment_is_recorded_and_the_rest_kept(
    walks: dict[str, np.ndarray], kind: str, detail: str
) -> None:
    clips, failures = to_clips(_bad_second_half(walks["forward"], kind))
    assert [clip.num_frames for clip in clips] == [90]
    assert [failure.error_kind for failure in failures] == [kind]
    failure = failures[0]
    logger.warning("%s: %s", kind, failure.message)
    assert failure.stage == "canonicalise" and failure.source_uri == SOURCE
    assert failure.message.startswith(f"{SOURCE} track walk-0 video frames ")
    assert detail in failure.message


def test_track_without_usable_frames_gives_a_failure(walks: dict[str, np.ndarray]) -> None:
    undetected = make_track(walks["left"], CAMERAS["left"], dropouts=((0, 149),))
    clips, failures = to_clips(undetected)
    assert clips == [] and [failure.error_kind for failure in failures] == ["NoDetections"]
    assert "no person detected" in failures[0].message
    dim = make_track(walks["left"], CAMERAS["left"], visibility=0.3)
    clips, failures = to_clips(dim)
    assert clips == [] and [failure.error_kind for failure in failures] == ["LowVisibility"]


def test_other_frame_rates_are_resampled_to_30_fps(walks: dict[str, np.ndarray]) -> None:
    points = resample_positions(walks["left"], 30.0, 25.0)  # (124, 33, 3)
    clips, _ = to_clips(make_track(points, CAMERAS["left"], fps=25.0))
    duration = (len(points) - 1) / 25.0
    assert clips[0].fps == 30.0 and clips[0].num_frames == int(duration * 30.0 + 1e-9) + 1
    assert np.linalg.norm(clips[0].positions[-1, 0] - truth_of(walks["left"])[-1, 0]) < 0.5


def test_smoothing_cuts_noise_without_lag(walks: dict[str, np.ndarray]) -> None:
    clean = walks["forward"][:, LANDMARK["left_ankle"], 1]  # (T,) real ankle height
    noisy = clean + np.random.default_rng(0).normal(0.0, 0.01, clean.shape)
    smoothed = smooth_zero_phase(noisy, FPS, cutoff_hz=6.0)
    assert lag_of(smoothed, clean) == 0

    def error(signal: np.ndarray, derivative: int) -> float:  # RMS error of a derivative
        return float(np.sqrt(np.mean(np.diff(signal - clean, derivative) ** 2)))

    # A 6 Hz low-pass at 30 fps keeps ~6/15 of white noise's power (RMS x 0.63), and cuts the
    # frame-to-frame acceleration noise that reads as jitter far more.
    assert error(smoothed, 0) < 0.7 * error(noisy, 0)
    assert error(smoothed, 2) < 0.25 * error(noisy, 2)
    one_way = lfilter(*butter(2, 6.0 / 15.0), noisy)  # the same filter run forward only is late
    assert lag_of(one_way, clean) >= 1


def test_gaps_are_filled_and_long_ones_split() -> None:
    valid = np.ones(40, dtype=bool)
    valid[[0, 1, 39]] = False  # ragged ends are trimmed
    valid[10:19] = False  # 9 frames: filled
    valid[25:35] = False  # 10 frames: split
    assert find_segments(valid, max_gap_frames=9) == [(2, 25), (35, 39)]
    times = np.linspace(0.0, 1.0, 30)
    curve = np.stack([np.sin(3 * times), times**2], axis=-1)  # (30, 2)
    inside = np.ones(30, dtype=bool)
    inside[12:20] = False
    for method, tolerance in (("cubic", 5e-3), ("linear", 0.15)):
        assert (
            np.abs(fill_gaps(np.where(inside[:, None], curve, 0.0), inside, method) - curve).max()
            < tolerance
        )


@pytest.mark.slow
def test_real_video_gives_a_human_clip(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MediaPipe on a real tennis video: grounded pelvis height and bone lengths are human."""
    pose = pytest.importorskip("extract.video.pose")
    model = shared_data / ".." / "models" / "pose_landmarker_full.task"
    monkeypatch.setenv("STYLEMOTION_POSE_MODEL", str(model))
    tracks = pose.extract_video_poses(shared_data / "video" / "gvhmr" / "tennis.mp4", "tennis")
    clips = [clip for track in tracks for clip in to_clips(track)[0]]
    assert clips, "the full-body tennis player should give at least one clip"
    for clip in clips:
        pelvis_height = float(np.median(clip.positions[:, JOINT_INDEX["pelvis"], 1]))
        lengths = bone_lengths(clip.positions)  # (T, 18), BONES order: child joint j at j - 1
        logger.warning("tennis: pelvis %.2f m, bones %s", pelvis_height, np.round(lengths[0], 2))
        assert 0.8 <= pelvis_height <= 1.2
        assert lengths.std(axis=0).max() < 1e-4
        for joint, (low, high) in {
            "knee": (0.3, 0.55),
            "ankle": (0.3, 0.55),
            "elbow": (0.2, 0.4),
        }.items():
            assert low <= lengths[0, JOINT_INDEX[f"left_{joint}"] - 1] <= high, joint
