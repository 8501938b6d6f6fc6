"""Global root trajectory of a video pose track, estimated under a static pinhole camera.

Owns the `TrajectorySource.ESTIMATED` part of the clips contract. MediaPipe's world landmarks
are metric but hip-centred (no translation), while its image landmarks place the body in the
frame but carry no metric depth. With an assumed field of view the focal length in pixels is
known, and the weak-perspective relation "pixel offset = focal * metric offset / depth" between
the two gives the depth of the body in every frame; back-projecting the image hip centre at that
depth gives the other two coordinates. The result is expressed in the y-up frame of
`extract.video.pose_clips` (x right, y up, z towards the camera).

Assumptions, each a source of error: the camera is static and level (no pitch or roll: a tilted
camera turns "walking towards it" into a slope), square pixels with the principal point at the
frame centre, and the field of view is right (depth scales with the focal length; the sideways
and vertical motion does not depend on it).
"""

from __future__ import annotations

import logging
import math

import numpy as np
from scipy.ndimage import median_filter

from extract.video.pose_cleaning import smooth_zero_phase
from storage.joint_maps import MEDIAPIPE_LANDMARK_NAMES

logger = logging.getLogger(__name__)

_LANDMARK = {name: index for index, name in enumerate(MEDIAPIPE_LANDMARK_NAMES)}
_HIPS = [_LANDMARK["left_hip"], _LANDMARK["right_hip"]]
# Torso and legs: large, rigid-ish and rarely out of the frame; hands and face are left out.
SCALE_LANDMARKS: tuple[int, ...] = tuple(
    _LANDMARK[f"{side}_{part}"]
    for side in ("left", "right")
    for part in ("shoulder", "hip", "knee", "ankle")
)
_MIN_SCALE = 1e-6  # pixels per metre; guards a degenerate (all-zero) frame


def focal_length_pixels(width: int, height: int, field_of_view_deg: float) -> float:
    """Focal length in pixels of a camera whose field of view spans the longer image side."""
    return 0.5 * max(width, height) / math.tan(math.radians(field_of_view_deg) / 2.0)


def image_scale(world: np.ndarray, pixels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pixels per metre `(n,)` of the body in each frame, by weighted least squares.

    world: (n, 33, 3) MediaPipe world landmarks (x right, y down, metres, hip-centred).
    pixels: (n, 33, 2) image landmarks in pixels. weights: (n, 33), e.g. visibility.
    Fits pixel offsets from the hip centre to scale * (x, y) metric offsets over
    `SCALE_LANDMARKS`; using the metric x, y (not the full 3D length) accounts for
    foreshortening of limbs pointing at the camera.
    """
    chosen = list(SCALE_LANDMARKS)
    metric = world[:, chosen, :2] - world[:, _HIPS, :2].mean(axis=1, keepdims=True)  # (n, K, 2)
    offsets = pixels[:, chosen] - pixels[:, _HIPS].mean(axis=1, keepdims=True)  # (n, K, 2)
    weight = weights[:, chosen]  # (n, K)
    numerator = (weight * (offsets * metric).sum(axis=-1)).sum(axis=1)
    denominator = (weight * (metric**2).sum(axis=-1)).sum(axis=1)
    return np.maximum(numerator / np.maximum(denominator, 1e-12), _MIN_SCALE)


def estimate_root_translation(
    world: np.ndarray,
    pixels: np.ndarray,
    weights: np.ndarray,
    *,
    fps: float,
    width: int,
    height: int,
    field_of_view_deg: float,
    depth_median_frames: int,
    depth_cutoff_hz: float,
    image_cutoff_hz: float,
) -> np.ndarray:
    """Hip-centre positions `(n, 3)` in the y-up camera-aligned frame, metres.

    world (n, 33, 3), pixels (n, 33, 2), weights (n, 33) as in `image_scale`. The per-frame
    depth is median-filtered (outlier frames) and low-passed harder than the image-plane hip
    position, both zero-phase, before back-projection.
    """
    focal = focal_length_pixels(width, height, field_of_view_deg)
    depth = focal / image_scale(world, pixels, weights)  # (n,)
    if depth_median_frames > 1:
        depth = median_filter(depth, size=depth_median_frames, mode="nearest")
    depth = smooth_zero_phase(depth, fps, depth_cutoff_hz)
    hip = smooth_zero_phase(pixels[:, _HIPS].mean(axis=1), fps, image_cutoff_hz)  # (n, 2)
    camera_x = (hip[:, 0] - 0.5 * width) * depth / focal
    camera_y = (hip[:, 1] - 0.5 * height) * depth / focal  # down
    return np.stack([camera_x, -camera_y, -depth], axis=-1)  # (n, 3): y up, z towards camera
