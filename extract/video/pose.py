"""Raw pose extraction: normalised frames -> shots -> MediaPipe PoseLandmarker -> `PoseTrack`s.

Owns the poses-table producer. One decode pass (`open_video_frames`) feeds the shot detector and
MediaPipe's `PoseLandmarker` (Tasks API, VIDEO running mode, integer-millisecond timestamps
`frame_index * 1000 // fps`, strictly increasing). Each shot gets a fresh landmarker, closed at
the end of the shot, so MediaPipe's own tracking state never crosses a cut. Detections are
linked into per-person tracks by `extract.video.pose_tracking` and cut where a track changes person
by `extract.video.pose_identity` (colour signatures taken here, while the frame is at hand); tracks
with too few detections are dropped (counted), the rest ranked by prominence (size x time on screen)
and the first `max_people_tracks` of each shot kept: with the default of 1 that is the one main
subject. Frames where a kept person is not detected hold zeros with `detected` False, and
`start_frame` indexes the normalised video, so frame indices line up with it. Failures are
typed: `VideoError` subclasses (from probing or decoding) and `PoseModelError`. A video that
decodes but keeps no track at all is a failure too (`NoPoseTrackError`, from
`extract_video_poses`): too brief a person (`TooShort`) or nobody (`NoPerson`), never a silent
nothing.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from pathlib import Path

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions, vision

from extract.video.frames import NormalisationPlan, NormaliseConfig, open_video_frames
from extract.video.native_log import native_stderr_to_file
from extract.video.pose_identity import IdentitySplit, appearance_signature, split_identity_switches
from extract.video.pose_model import PoseModelError, resolve_pose_model
from extract.video.pose_tracking import (
    PoseDetection,
    PoseTracker,
    TrackBuilder,
    TrackingConfig,
    trim_isolated_ends,
)
from extract.video.probe import VideoError
from extract.video.shots import Shot, ShotConfig, ShotDetector
from storage.checksums import file_sha256
from storage.records import make_clip_id
from storage.video_records import PoseTrack

logger = logging.getLogger(__name__)

EXTRACTOR_VERSION = f"stylemotion-pose/1 mediapipe/{mp.__version__}"


@dataclass(frozen=True)
class PoseConfig:
    """Pose extraction settings; `model_path` None means $STYLEMOTION_POSE_MODEL or the cache.

    `num_poses` is how many people MediaPipe looks for per frame (1 is fastest and follows one
    person; more lets the tracker choose the most prominent). `max_people_tracks` is how many
    tracks per shot are kept (1: the main subject only).
    """

    model_path: str | None = None
    num_poses: int = 1
    max_people_tracks: int = 1
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    min_track_s: float = 0.5
    normalise: NormaliseConfig = field(default_factory=NormaliseConfig)
    shots: ShotConfig = field(default_factory=ShotConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def __post_init__(self) -> None:
        if self.num_poses < 1 or self.max_people_tracks < 1 or self.min_track_s < 0:
            raise ValueError("num_poses and max_people_tracks must be >= 1, min_track_s >= 0")
        confidences = (
            self.min_detection_confidence,
            self.min_presence_confidence,
            self.min_tracking_confidence,
        )
        if not all(0.0 <= value <= 1.0 for value in confidences):
            raise ValueError(f"confidences must lie in [0, 1], got {confidences}")
        if self.normalise.fps > 1000:
            raise ValueError("fps above 1000 cannot have strictly increasing ms timestamps")


@dataclass(frozen=True)
class PoseExtraction:
    """Everything one extraction produced: the kept tracks and the counts behind them."""

    video_id: str
    tracks: tuple[PoseTrack, ...]
    shots: tuple[Shot, ...]
    num_frames: int
    fps: float
    width: int
    height: int
    capped: bool
    num_detections: int
    dropped_short_tracks: int
    dropped_extra_tracks: int
    model_sha256: str
    identity_switches: int = 0  # stretches cut out where a track changed person
    dropped_chimeras: int = 0  # pieces dropped between two identity breaks


class NoPoseTrackError(VideoError):
    """The video decoded, but no track was kept (e.g. its people were cut as identity swaps)."""

    kind = "NoTrack"


class PersonTooBriefError(NoPoseTrackError):
    """Every track was shorter than `PoseConfig.min_track_s` (a very short video, a passer-by)."""

    kind = "TooShort"


class NoPersonError(NoPoseTrackError):
    """MediaPipe detected nobody in any frame."""

    kind = "NoPerson"


def no_track_error(
    video_path: str | Path, extraction: PoseExtraction, config: PoseConfig
) -> NoPoseTrackError:
    """Why `extraction`, which kept no track, kept none (the error names the video)."""
    seconds = extraction.num_frames / extraction.fps if extraction.fps else 0.0
    length = f"{extraction.num_frames} frames ({seconds:.2f} s at {extraction.fps:g} fps)"
    if extraction.dropped_short_tracks:
        return PersonTooBriefError(
            video_path,
            f"no pose track kept: {extraction.dropped_short_tracks} track(s) shorter than "
            f"min_track_s {config.min_track_s:g} s in {length}",
        )
    if not extraction.num_detections:
        return NoPersonError(video_path, f"no pose track kept: nobody detected in {length}")
    return NoPoseTrackError(
        video_path,
        f"no pose track kept from {extraction.num_detections} detections in {length} "
        f"({extraction.dropped_chimeras} piece(s) cut between identity switches)",
    )


@dataclass(frozen=True)
class _ModelIdentity:
    path: Path
    name: str
    sha256: str


def _model_identity(model_path: Path) -> _ModelIdentity:
    status = model_path.stat()
    sha256 = _cached_sha256(str(model_path.resolve()), status.st_size, status.st_mtime_ns)
    return _ModelIdentity(model_path, model_path.stem, sha256)


@functools.lru_cache(maxsize=8)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    """Hash once per worker process; size and mtime in the key notice a replaced file."""
    return file_sha256(path)


def extract_video_poses(
    video_path: str | Path, video_id: str, config: PoseConfig | None = None
) -> list[PoseTrack]:
    """The pose tracks of one video; `NoPoseTrackError` says why when there is none.

    `run_pose_extraction` gives the counts as well, and an empty result without raising.
    """
    config = config or PoseConfig()
    extraction = run_pose_extraction(video_path, video_id, config)
    if not extraction.tracks:
        raise no_track_error(video_path, extraction, config)
    return list(extraction.tracks)


def run_pose_extraction(
    video_path: str | Path, video_id: str, config: PoseConfig | None = None
) -> PoseExtraction:
    """Decode, cut into shots, run MediaPipe per shot and build the kept tracks."""
    config = config or PoseConfig()
    model = _model_identity(resolve_pose_model(config.model_path))
    detector = ShotDetector(config.shots)
    tracks: list[PoseTrack] = []
    dropped_short = dropped_extra = num_detections = switches = chimeras = 0
    with open_video_frames(video_path, config.normalise) as frames:
        plan = frames.plan
        labelled = detector.label_frames(frames)
        for shot_index, shot_frames in groupby(labelled, key=itemgetter(0)):
            split, shot_detections = _track_shot(model.path, plan, shot_frames, config)
            num_detections += shot_detections
            switches, chimeras = switches + split.num_switches, chimeras + split.num_chimeras
            kept, short, extra = _select_tracks(split.tracks, plan.fps, config)
            dropped_short, dropped_extra = dropped_short + short, dropped_extra + extra
            for track_index, builder in enumerate(kept):
                tracks.append(_pose_track(builder, video_id, shot_index, track_index, plan, model))
    extraction = PoseExtraction(
        video_id=video_id,
        tracks=tuple(tracks),
        shots=tuple(detector.shots),
        num_frames=detector.num_frames,
        fps=plan.fps,
        width=plan.width,
        height=plan.height,
        capped=plan.capped,
        num_detections=num_detections,
        dropped_short_tracks=dropped_short,
        dropped_extra_tracks=dropped_extra,
        model_sha256=model.sha256,
        identity_switches=switches,
        dropped_chimeras=chimeras,
    )
    _log_summary(video_path, extraction)
    return extraction


def create_pose_landmarker(model_path: Path, config: PoseConfig) -> vision.PoseLandmarker:
    """A VIDEO-mode landmarker; close it (use `with`) when the shot ends."""
    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path)),
        running_mode=vision.RunningMode.VIDEO,
        num_poses=config.num_poses,
        min_pose_detection_confidence=config.min_detection_confidence,
        min_pose_presence_confidence=config.min_presence_confidence,
        min_tracking_confidence=config.min_tracking_confidence,
        output_segmentation_masks=False,
    )
    try:
        with native_stderr_to_file():
            return vision.PoseLandmarker.create_from_options(options)
    except (RuntimeError, ValueError) as error:
        raise PoseModelError(f"cannot load the pose model {model_path}: {error}") from error


def _track_shot(
    model_path: Path,
    plan: NormalisationPlan,
    shot_frames: Iterable[tuple[int, int, np.ndarray]],
    config: PoseConfig,
) -> tuple[IdentitySplit, int]:
    """The shot's tracks after identity cuts, and its number of detections."""
    frame_size = (plan.width, plan.height)
    tracker = PoseTracker(plan.fps, frame_size, config.tracking)
    with create_pose_landmarker(model_path, config) as landmarker:
        for position, (_, frame_index, frame) in enumerate(shot_frames):
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame)
            timestamp_ms = int(frame_index * 1000 // plan.fps)
            if position == 0:  # the first frame's native notes go to the log file
                with native_stderr_to_file():
                    result = landmarker.detect_for_video(image, timestamp_ms)
            else:
                result = landmarker.detect_for_video(image, timestamp_ms)
            tracker.update(frame_index, _detections(result, frame))
    num_detections = sum(track.num_detections for track in tracker.tracks)
    return split_identity_switches(tracker.tracks, plan.fps, config.tracking), num_detections


def _detections(result: vision.PoseLandmarkerResult, frame: np.ndarray) -> list[PoseDetection]:
    """The frame's poses with their colour signatures; frame: (H, W, 3) uint8 RGB."""
    frame_size = (frame.shape[1], frame.shape[0])
    detections = []
    for image_pose, world_pose in zip(
        result.pose_landmarks, result.pose_world_landmarks, strict=True
    ):
        image = np.array(
            [(m.x, m.y, m.z, m.visibility or 0.0, m.presence or 0.0) for m in image_pose],
            np.float32,
        )  # (33, 5)
        world = np.array([(m.x, m.y, m.z) for m in world_pose], np.float32)  # (33, 3)
        if not (np.isfinite(image).all() and np.isfinite(world).all()):
            logger.debug("skipping a detection with non-finite landmarks")
            continue
        pixels = image[:, :2] * np.asarray(frame_size, np.float32)  # (33, 2)
        appearance = appearance_signature(frame, pixels)
        detections.append(
            PoseDetection.from_landmarks(
                world, image[:, :3], image[:, 3], image[:, 4], frame_size, appearance
            )
        )
    return detections


def _select_tracks(
    builders: list[TrackBuilder], fps: float, config: PoseConfig
) -> tuple[list[TrackBuilder], int, int]:
    """(kept tracks, most prominent first; number too short; number beyond max_people_tracks)."""
    min_detections = max(1, math.ceil(config.min_track_s * fps))
    builders = [trim_isolated_ends(b, fps, config.tracking) for b in builders]
    long_enough = [b for b in builders if b.num_detections >= min_detections]
    ranked = sorted(long_enough, key=lambda builder: builder.prominence, reverse=True)
    kept = ranked[: config.max_people_tracks]
    return kept, len(builders) - len(long_enough), len(ranked) - len(kept)


def _pose_track(
    builder: TrackBuilder,
    video_id: str,
    shot_index: int,
    track_index: int,
    plan: NormalisationPlan,
    model: _ModelIdentity,
) -> PoseTrack:
    return PoseTrack(
        track_id=make_clip_id("pose", video_id, shot_index, track_index),
        video_id=video_id,
        shot_index=shot_index,
        track_index=track_index,
        start_frame=builder.frame_indices[0],
        fps=plan.fps,
        width=plan.width,
        height=plan.height,
        model_name=model.name,
        model_sha256=model.sha256,
        extractor_version=EXTRACTOR_VERSION,
        **builder.stack(),
    )


def _log_summary(video_path: str | Path, extraction: PoseExtraction) -> None:
    logger.info(
        "%s: %d frames at %.3f fps%s, %d shot(s), %d detections, %d track(s) kept "
        "(%d too short, %d beyond max_people_tracks; %d identity switch(es) cut, %d chimera(s))",
        video_path,
        extraction.num_frames,
        extraction.fps,
        " (capped)" if extraction.capped else "",
        len(extraction.shots),
        extraction.num_detections,
        len(extraction.tracks),
        extraction.dropped_short_tracks,
        extraction.dropped_extra_tracks,
        extraction.identity_switches,
        extraction.dropped_chimeras,
    )
