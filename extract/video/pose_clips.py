"""Canonicalisation of raw video pose tracks into clips: the poses table -> the clips table.

Owns `track_to_clips`, the cheap, re-runnable step from one `PoseTrack` (raw MediaPipe output
for one person in one shot) to `MotionClip`s on the canonical skeleton, plus a `FailureRecord`
for every part of the track that could not become a clip. Steps, each thresholded by a named
field of `CanonicaliseConfig`: undetected or low-visibility frames become gaps; short gaps are
interpolated and long ones split the track into segments; each segment is checked (duration,
visibility, jitter, bone plausibility), smoothed without lag (`extract.video.pose_cleaning`), turned
from MediaPipe's y-down camera axes to y up and mapped onto the 19 joints
(`storage.joint_maps.MEDIAPIPE_33`), given a global trajectory estimated under a static pinhole
camera (`extract.video.pose_trajectory`), resampled to 30 fps, bone-length normalised, grounded and
turned to face +z (`storage.canonical`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from extract.mocap.bvh_import import resample_positions
from extract.video.pose_cleaning import (
    INTERPOLATION_METHODS,
    MIRROR_BONE,
    bone_asymmetry,
    fill_gaps,
    find_segments,
    jitter_level,
    median_bone_lengths,
    normalise_bone_lengths,
    smooth_zero_phase,
    symmetric_bone_lengths,
)
from extract.video.pose_trajectory import estimate_root_translation
from storage.canonical import floor_height, place_in_canonical_frame, root_trajectory
from storage.joint_maps import (
    MEDIAPIPE_33,
    MEDIAPIPE_LANDMARK_NAMES,
    apply_joint_map,
    joint_map_weights,
)
from storage.records import (
    FailureRecord,
    MotionClip,
    RecordError,
    SourceKind,
    TrajectorySource,
    make_clip_id,
)
from storage.skeleton import BONES, CANONICAL_FPS, JOINT_INDEX, JOINT_NAMES
from storage.video_records import PoseTrack

logger = logging.getLogger(__name__)

EXTRACTOR = "stylemotion.pose_clips"
EXTRACTOR_VERSION = "1.0.0"
STAGE = "canonicalise"

# MediaPipe world axes (x right, y down, z away from the camera) -> y up: a person facing the
# camera then faces +z with their left at +x, as the canonical skeleton wants.
_MEDIAPIPE_TO_Y_UP = np.array([1.0, -1.0, -1.0])
_LANDMARK_TO_JOINT = joint_map_weights(MEDIAPIPE_LANDMARK_NAMES, MEDIAPIPE_33)  # (19, 33)
_PELVIS = JOINT_INDEX["pelvis"]
_MAPPED_LANDMARKS = [MEDIAPIPE_LANDMARK_NAMES.index(name) for name in MEDIAPIPE_33.source_names]
_THIGHS = {side: BONES.children.index(JOINT_INDEX[f"{side}_knee"]) for side in ("left", "right")}


@dataclass(frozen=True)
class CanonicaliseConfig:
    """Every threshold of video canonicalisation; a flow parameter, so frozen and flat."""

    # Gaps and segments
    max_gap_s: float = 0.3  # missing stretches up to this long are interpolated, longer split
    min_segment_s: float = 2.0  # shorter segments are dropped (TooShort)
    min_frame_visibility: float = 0.5  # detected frames below this mean visibility are gaps
    interpolation: str = "cubic"  # "cubic" or "linear", per landmark coordinate
    interpolated_confidence_scale: float = 0.5  # confidence factor of interpolated frames
    # Quality filters on a segment
    min_mean_visibility: float = 0.7  # mean landmark visibility of a segment (LowVisibility)
    max_jitter_m: float = 0.025  # median raw-vs-smoothed joint distance (Jittery)
    thigh_length_range_m: tuple[float, float] = (0.25, 0.65)  # median thigh (ImplausibleBones)
    max_bone_asymmetry: float = 0.3  # |left - right| / mean of a bone pair (ImplausibleBones)
    # Smoothing, zero-phase (forward-backward Butterworth)
    smoothing_cutoff_hz: float = 6.0  # joint positions; whole-body kinematics sit below 6 Hz
    smoothing_order: int = 2  # per pass; filtfilt doubles it
    # Global trajectory under a static, level pinhole camera
    field_of_view_deg: float = 60.0  # assumed, across the longer image side
    trajectory_cutoff_hz: float = 3.0  # image-plane hip position
    depth_cutoff_hz: float = 1.0  # depth from body scale, noisier than the image position
    depth_median_frames: int = 5  # median filter on depth against single-frame outliers
    # Output
    floor_percentile: float = 2.0  # floor = this percentile of the foot joints' heights
    target_fps: float = CANONICAL_FPS

    def __post_init__(self) -> None:
        positive = ("max_gap_s", "min_segment_s", "max_jitter_m", "smoothing_cutoff_hz")
        positive += ("field_of_view_deg", "trajectory_cutoff_hz", "depth_cutoff_hz", "target_fps")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"CanonicaliseConfig.{name} must be positive")
        if self.interpolation not in INTERPOLATION_METHODS:
            raise ValueError(f"interpolation must be one of {INTERPOLATION_METHODS}")
        low, high = self.thigh_length_range_m
        if not 0 < low < high:
            raise ValueError(f"thigh_length_range_m must be 0 < low < high, got {low}, {high}")
        if not 0 < self.field_of_view_deg < 180:
            raise ValueError("field_of_view_deg must lie in (0, 180)")
        fractions = ("min_frame_visibility", "min_mean_visibility", "interpolated_confidence_scale")
        if not all(0.0 <= getattr(self, name) <= 1.0 for name in fractions):
            raise ValueError(f"CanonicaliseConfig.{fractions} must lie in [0, 1]")
        if min(self.smoothing_order, self.depth_median_frames) < 1:
            raise ValueError("smoothing_order and depth_median_frames must be >= 1")


DEFAULT_CONFIG = CanonicaliseConfig()


@dataclass(frozen=True)
class _ClipContext:
    """What every clip and failure of one track shares."""

    track: PoseTrack
    style: str | None
    source_uri: str
    dataset: str
    licence: str
    config: CanonicaliseConfig

    def failure(self, error_kind: str, where: str, detail: str) -> FailureRecord:
        message = f"{self.source_uri} track {self.track.track_id} {where}: {detail}"
        logger.info("dropped: %s (%s)", message, error_kind)
        return FailureRecord(self.source_uri, self.dataset, STAGE, error_kind, message)


def track_to_clips(
    track: PoseTrack,
    *,
    style: str | None,
    source_uri: str,
    dataset: str,
    licence: str,
    config: CanonicaliseConfig = DEFAULT_CONFIG,
) -> tuple[list[MotionClip], list[FailureRecord]]:
    """Clips of every clean segment of `track`, and a failure for every dropped segment."""
    context = _ClipContext(track, style, source_uri, dataset, licence, config)
    frame_visibility = track.visibility[:, _MAPPED_LANDMARKS].mean(axis=1)  # (T,)
    valid = track.detected & (frame_visibility >= config.min_frame_visibility)
    max_gap_frames = int(round(config.max_gap_s * track.fps))
    segments = find_segments(valid, max_gap_frames)
    if not segments:
        return [], [_empty_track_failure(context, frame_visibility)]
    clips: list[MotionClip] = []
    failures: list[FailureRecord] = []
    for start, stop in segments:
        outcome = _segment_outcome(context, start, stop, valid[start:stop])
        (clips if isinstance(outcome, MotionClip) else failures).append(outcome)
    logger.info(
        "%s track %s: %d clips, %d dropped segments",
        source_uri,
        track.track_id,
        len(clips),
        len(failures),
    )
    return clips, failures


def _empty_track_failure(context: _ClipContext, frame_visibility: np.ndarray) -> FailureRecord:
    track, config = context.track, context.config
    where = f"video frames {track.start_frame}-{track.start_frame + track.num_frames - 1}"
    if not track.detected.any():
        return context.failure("NoDetections", where, "no person detected in any frame")
    best = float(frame_visibility[track.detected].max())
    detail = (
        f"best frame visibility {best:.2f} < min_frame_visibility "
        f"{config.min_frame_visibility:.2f} in all {int(track.detected.sum())} detected frames"
    )
    return context.failure("LowVisibility", where, detail)


def _frame_range(context: _ClipContext, start: int, stop: int) -> str:
    offset = context.track.start_frame
    seconds = (stop - start) / context.track.fps
    return (
        f"video frames {offset + start}-{offset + stop - 1} "
        f"(track frames {start}-{stop - 1}, {seconds:.2f} s)"
    )


def _segment_outcome(
    context: _ClipContext, start: int, stop: int, valid: np.ndarray
) -> MotionClip | FailureRecord:
    """Clean, check and canonicalise frames `[start, stop)`; `valid` `(n,)` marks real frames."""
    track, config = context.track, context.config
    where = _frame_range(context, start, stop)
    if (stop - start) / track.fps < config.min_segment_s:  # before any filtering of few frames
        detail = f"duration {(stop - start) / track.fps:.2f} s < min_segment_s"
        return context.failure("TooShort", where, f"{detail} {config.min_segment_s:.2f} s")
    world = fill_gaps(track.world_landmarks[start:stop], valid, config.interpolation)
    local = _canonical_local(world)  # (n, 19, 3)
    smoothed = smooth_zero_phase(
        local, track.fps, config.smoothing_cutoff_hz, config.smoothing_order
    )
    measures = _measure_segment(track.visibility[start:stop], valid, local, smoothed)
    problem = _first_problem(measures, config)
    if problem is not None:
        return context.failure(problem[0], where, problem[1])
    try:
        return _build_clip(context, start, stop, valid, world, smoothed)
    except RecordError as error:
        return context.failure("InvalidClip", where, str(error))


@dataclass(frozen=True)
class SegmentMeasures:
    """What the quality filters look at in one segment, before smoothing is applied."""

    mean_visibility: float  # over real (not interpolated) frames and the mapped landmarks
    jitter_m: float  # `jitter_level` of the pelvis-relative joints
    bone_lengths: np.ndarray  # (J-1,) median length per bone, before normalisation


def _measure_segment(
    visibility: np.ndarray, valid: np.ndarray, local: np.ndarray, smoothed: np.ndarray
) -> SegmentMeasures:
    """visibility (n, 33), valid (n,), local and smoothed joints (n, 19, 3)."""
    return SegmentMeasures(
        mean_visibility=float(visibility[valid][:, _MAPPED_LANDMARKS].mean()),
        jitter_m=jitter_level(local, smoothed, valid),
        bone_lengths=median_bone_lengths(smoothed),
    )


def _first_problem(measures: SegmentMeasures, config: CanonicaliseConfig) -> tuple[str, str] | None:
    """(error kind, measured value vs threshold) of the first failed check, or None."""
    if measures.mean_visibility < config.min_mean_visibility:
        return "LowVisibility", (
            f"mean visibility {measures.mean_visibility:.2f} < min_mean_visibility "
            f"{config.min_mean_visibility:.2f}"
        )
    if measures.jitter_m > config.max_jitter_m:
        return "Jittery", (
            f"jitter (median raw-vs-smoothed joint distance) {measures.jitter_m:.3f} m "
            f"> max_jitter_m {config.max_jitter_m:.3f} m"
        )
    problem = _bone_problem(measures.bone_lengths, config)
    return None if problem is None else ("ImplausibleBones", problem)


def _bone_problem(lengths: np.ndarray, config: CanonicaliseConfig) -> str | None:
    """Why median bone `lengths` `(J-1,)` are not a human's, or None when they are."""
    low, high = config.thigh_length_range_m
    for side, bone in _THIGHS.items():
        if not low <= lengths[bone] <= high:
            return (
                f"{side} thigh {lengths[bone]:.2f} m outside thigh_length_range_m "
                f"{low:.2f}-{high:.2f} m"
            )
    asymmetry = bone_asymmetry(lengths)  # (J-1,)
    worst = int(np.argmax(asymmetry))
    if asymmetry[worst] <= config.max_bone_asymmetry:
        return None
    child, parent = BONES.children[worst], BONES.parents[worst]
    mirror_length = lengths[MIRROR_BONE[worst]]
    return (
        f"left/right asymmetry {asymmetry[worst]:.0%} of {JOINT_NAMES[parent]}-"
        f"{JOINT_NAMES[child]} ({lengths[worst]:.2f} m vs its mirror {mirror_length:.2f} m) "
        f"> max_bone_asymmetry {config.max_bone_asymmetry:.0%}"
    )


def _canonical_local(world: np.ndarray) -> np.ndarray:
    """MediaPipe world landmarks `(n, 33, 3)` -> canonical joints `(n, 19, 3)`, y up, pelvis 0."""
    joints = apply_joint_map(MEDIAPIPE_LANDMARK_NAMES, world * _MEDIAPIPE_TO_Y_UP, MEDIAPIPE_33)
    return joints - joints[:, _PELVIS : _PELVIS + 1]


def _build_clip(
    context: _ClipContext,
    start: int,
    stop: int,
    valid: np.ndarray,
    world: np.ndarray,
    smoothed: np.ndarray,
) -> MotionClip:
    """The clip of a segment that passed every check."""
    track, config = context.track, context.config
    segment = slice(start, stop)
    size = np.array([track.width, track.height], dtype=np.float64)
    pixels = fill_gaps(track.image_landmarks[segment, :, :2] * size, valid, config.interpolation)
    visibility = fill_gaps(track.visibility[segment], valid, "linear")  # (n, 33)
    root = estimate_root_translation(
        world,
        pixels,
        visibility,
        fps=track.fps,
        width=track.width,
        height=track.height,
        field_of_view_deg=config.field_of_view_deg,
        depth_median_frames=config.depth_median_frames,
        depth_cutoff_hz=config.depth_cutoff_hz,
        image_cutoff_hz=config.trajectory_cutoff_hz,
    )  # (n, 3)
    confidence = _joint_confidence(track, segment, valid, config)  # (n, 19)
    local, root, confidence = (
        _resample(array, track.fps, config.target_fps) for array in (smoothed, root, confidence)
    )
    lengths = symmetric_bone_lengths(median_bone_lengths(local))
    positions = normalise_bone_lengths(local, lengths) + root[:, None, :]  # (n', 19, 3)
    placed = place_in_canonical_frame(positions, put_on_floor=False)
    placed[..., 1] -= floor_height(placed, config.floor_percentile)
    return _make_clip(context, start, placed, confidence)


def _joint_confidence(
    track: PoseTrack, segment: slice, valid: np.ndarray, config: CanonicaliseConfig
) -> np.ndarray:
    """Visibility x presence mapped onto the joints `(n, 19)`; interpolated frames scaled down."""
    score = fill_gaps(track.visibility[segment] * track.presence[segment], valid, "linear")
    confidence = score @ _LANDMARK_TO_JOINT.T  # (n, 19)
    confidence[~valid] *= config.interpolated_confidence_scale
    return np.clip(confidence, 0.0, 1.0)


def _resample(array: np.ndarray, source_fps: float, target_fps: float) -> np.ndarray:
    """Linear resampling of `(n, ...)` along frames (a no-op at equal rates)."""
    if abs(source_fps - target_fps) <= 1e-6 * target_fps:
        return array
    flat = array.reshape(array.shape[0], -1, 1)  # (n, K, 1)
    resampled = resample_positions(flat, source_fps, target_fps)
    return resampled.reshape(resampled.shape[0], *array.shape[1:])


def _make_clip(
    context: _ClipContext, start: int, positions: np.ndarray, confidence: np.ndarray
) -> MotionClip:
    track = context.track
    return MotionClip(
        clip_id=make_clip_id(
            SourceKind.VIDEO.value, track.video_id, track.shot_index, track.track_index, start
        ),
        positions=positions.astype(np.float32),
        confidence=confidence.astype(np.float32),
        root_trajectory=root_trajectory(positions),
        fps=context.config.target_fps,
        source_kind=SourceKind.VIDEO,
        source_uri=context.source_uri,
        dataset=context.dataset,
        licence=context.licence,
        extractor=EXTRACTOR,
        extractor_version=EXTRACTOR_VERSION,
        style=context.style,
        track_index=track.track_index,
        start_time_s=(track.start_frame + start) / track.fps,
        trajectory_source=TrajectorySource.ESTIMATED,
        video_id=track.video_id,
        pose_track_id=track.track_id,
    )
