"""Overlay video of a video-derived clip: the pose drawn over the source frames, beside the 3D clip.

Owns the check a person makes of pose extraction: the left panel shows the normalised source
video with the canonical skeleton drawn from the raw MediaPipe image landmarks (the same joint
map as canonicalisation, so what is drawn is what was used); the right panel shows the cleaned,
canonical 3D clip as `extract.rendering.render` draws it. Output runs at the clip's 30 fps; each
output frame shows the source frame nearest in time, so a 24 fps source is never resampled.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from extract.rendering.camera import follow_targets
from extract.rendering.render import (
    JOINT_COLORS_BGR,
    RenderResult,
    draw_panel,
    write_video,
)
from extract.video.frames import NormaliseConfig, open_video_frames
from storage.errors import UserInputError
from storage.joint_maps import MEDIAPIPE_33, MEDIAPIPE_LANDMARK_NAMES, joint_map_weights
from storage.records import MotionClip
from storage.skeleton import BONES
from storage.video_records import PoseTrack

PANEL_HEIGHT = 540
_LANDMARK_WEIGHTS = joint_map_weights(MEDIAPIPE_LANDMARK_NAMES, MEDIAPIPE_33)  # (19, 33)


class OverlayError(UserInputError, ValueError):
    """The clip, its track and its video do not fit together."""


@dataclass(frozen=True)
class OverlayLayout:
    source_width: int
    panel_width: int
    height: int = PANEL_HEIGHT

    @property
    def size(self) -> tuple[int, int]:
        return self.source_width + self.panel_width, self.height


def _layout(track: PoseTrack) -> OverlayLayout:
    source_width = round(PANEL_HEIGHT * track.width / track.height / 2) * 2
    return OverlayLayout(source_width=max(2, source_width), panel_width=PANEL_HEIGHT)


def image_joints(track: PoseTrack, frame: int) -> np.ndarray | None:
    """Canonical joints `(19, 2)` in normalised image coordinates, None when not detected."""
    if not track.detected[frame]:
        return None
    return _LANDMARK_WEIGHTS @ track.image_landmarks[frame, :, :2]  # (19, 33) @ (33, 2)


def _draw_pose_2d(image: np.ndarray, joints: np.ndarray) -> None:
    height, width = image.shape[:2]
    pixels = np.round(joints * [width, height]).astype(np.int32)  # (19, 2)
    for child, parent in zip(BONES.children, BONES.parents, strict=True):
        color = JOINT_COLORS_BGR[child]
        cv2.line(image, tuple(pixels[parent]), tuple(pixels[child]), color, 3, cv2.LINE_AA)
    for joint, pixel in enumerate(pixels):
        cv2.circle(image, tuple(pixel), 4, JOINT_COLORS_BGR[joint], -1, cv2.LINE_AA)


def _source_frames(video_path: Path, first: int, config: NormaliseConfig) -> Iterator[np.ndarray]:
    """Normalised RGB frames of the video from index `first` on."""
    with open_video_frames(video_path, config) as frames:
        for index, frame in enumerate(frames):
            if index >= first:
                yield frame


def _clip_frames(
    clip: MotionClip, track: PoseTrack, video_path: Path, config: NormaliseConfig
) -> Iterator[np.ndarray]:
    layout = _layout(track)
    canvas = np.empty((layout.height, layout.panel_width, 3), np.uint8)
    out = np.empty((layout.height, layout.size[0], 3), np.uint8)
    targets = follow_targets(clip.positions, clip.fps)
    first_track_frame = round(clip.start_time_s * track.fps) - track.start_frame
    source = _source_frames(video_path, track.start_frame + first_track_frame, config)
    current, current_index = next(source), 0
    for index in range(clip.num_frames):
        wanted = round(index * track.fps / clip.fps)  # nearest source frame in time
        while current_index < wanted:
            current, current_index = next(source, current), current_index + 1
        image = cv2.cvtColor(current, cv2.COLOR_RGB2BGR)
        joints = image_joints(track, min(first_track_frame + wanted, track.num_frames - 1))
        if joints is not None:
            _draw_pose_2d(image, joints)
        out[:, : layout.source_width] = cv2.resize(image, (layout.source_width, layout.height))
        counter = (
            f"frame {index + 1}/{clip.num_frames}   {clip.start_time_s + index / clip.fps:6.2f} s"
        )
        draw_panel(canvas, clip.positions[index], targets[index], "canonical 3D", counter)
        out[:, layout.source_width :] = canvas
        yield out


def render_overlay(
    clip: MotionClip,
    track: PoseTrack,
    video_path: Path,
    out_path: Path,
    *,
    normalise: NormaliseConfig | None = None,
    show_progress: bool = False,
) -> RenderResult:
    """Render the source video with the pose drawn on it beside the canonical clip."""
    if clip.pose_track_id != track.track_id:
        raise OverlayError(
            f"clip {clip.clip_id} comes from track {clip.pose_track_id}, not {track.track_id}"
        )
    frames = _clip_frames(clip, track, Path(video_path), normalise or NormaliseConfig())
    return write_video(
        frames,
        clip.num_frames,
        clip.fps,
        _layout(track).size,
        out_path,
        show_progress=show_progress,
    )
