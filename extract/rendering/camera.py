"""Camera of the skeleton renderer: where each panel looks from and how points reach pixels.

Owns the pinhole `Camera` (world to camera coordinates to pixels), `make_camera` (the fixed 3/4
front view: in front of the subject, turned towards its left side, looking slightly down at a
point `CAMERA_TARGET_HEIGHT_M` above a ground target), `follow_targets` (the ground targets of a
clip: the pelvis path, Gaussian-smoothed and clamped to a maximum lag, so the subject stays in
frame while the floor slides underneath) and `_clip_to_near_plane` (cutting segments to their
part in front of the camera), with the constants that set all of these. Positions are on
`storage.skeleton` (metres, y up); drawing lives in `extract.rendering.render`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from storage.skeleton import JOINT_INDEX

# Camera: fixed 3/4 front view (in front of the subject, turned towards its left side), looking
# slightly down at a point CAMERA_TARGET_HEIGHT above the followed pelvis ground position.
CAMERA_AZIMUTH_DEG = 35.0
CAMERA_ELEVATION_DEG = 15.0
CAMERA_DISTANCE_M = 4.8
CAMERA_TARGET_HEIGHT_M = 0.8
VIEW_HALF_EXTENT_M = 1.3  # half the narrower panel side covers this much at the target
NEAR_PLANE_M = 0.1
FOLLOW_SIGMA_S = 0.5  # Gaussian smoothing of the followed pelvis path
FOLLOW_MAX_LAG_M = 0.35  # the smoothed path never strays further than this from the pelvis

_PELVIS = JOINT_INDEX["pelvis"]


@dataclass(frozen=True, eq=False)
class Camera:
    """Pinhole camera of one panel. `rotation` rows are right, up, forward in world axes."""

    eye: np.ndarray  # (3,)
    rotation: np.ndarray  # (3, 3)
    focal_px: float
    center_px: tuple[float, float]

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points `(..., 3)` to camera coordinates `(..., 3)`: x right, y up, z depth."""
        return (points - self.eye) @ self.rotation.T

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points `(..., 3)` to pixel coordinates `(..., 2)` (u right, v down)."""
        return _camera_to_pixels(self, self.to_camera(points))


def _camera_to_pixels(camera: Camera, camera_points: np.ndarray) -> np.ndarray:
    depth = np.maximum(camera_points[..., 2], NEAR_PLANE_M)
    u = camera.center_px[0] + camera.focal_px * camera_points[..., 0] / depth
    v = camera.center_px[1] - camera.focal_px * camera_points[..., 1] / depth
    return np.stack([u, v], axis=-1)


def make_camera(target_xz: np.ndarray, width: int, height: int) -> Camera:
    """The 3/4 front camera of a `width` x `height` panel looking at ground point `target_xz`."""
    azimuth, elevation = math.radians(CAMERA_AZIMUTH_DEG), math.radians(CAMERA_ELEVATION_DEG)
    target = np.array([target_xz[0], CAMERA_TARGET_HEIGHT_M, target_xz[1]])
    level = math.cos(elevation)
    towards_eye = np.array(
        [math.sin(azimuth) * level, math.sin(elevation), math.cos(azimuth) * level]
    )
    forward = -towards_eye
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    focal_px = min(width, height) / 2.0 / VIEW_HALF_EXTENT_M * CAMERA_DISTANCE_M
    return Camera(
        eye=target + CAMERA_DISTANCE_M * towards_eye,
        rotation=np.stack([right, up, forward]),
        focal_px=focal_px,
        center_px=(width / 2.0, height / 2.0),
    )


def follow_targets(positions: np.ndarray, fps: float) -> np.ndarray:
    """Ground points `(T, 2)` (x, z) the camera looks at: the pelvis path, smoothed and clamped."""
    pelvis_xz = np.asarray(positions, dtype=np.float64)[:, _PELVIS][:, [0, 2]]  # (T, 2)
    sigma = max(FOLLOW_SIGMA_S * fps, 1e-6)
    radius = int(math.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    # Odd reflection extrapolates the path linearly past both ends, so a subject walking at a
    # steady speed stays centred on the first and last frames too (edge padding would lag).
    padded = np.pad(pelvis_xz, ((radius, radius), (0, 0)), mode="reflect", reflect_type="odd")
    smoothed = np.stack([np.convolve(padded[:, axis], kernel, "valid") for axis in (0, 1)], -1)
    lag = smoothed - pelvis_xz
    lag_norm = np.linalg.norm(lag, axis=-1, keepdims=True)
    scale = np.minimum(1.0, FOLLOW_MAX_LAG_M / np.maximum(lag_norm, 1e-9))
    return pelvis_xz + lag * scale


def _clip_to_near_plane(
    starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut camera-space segments `(N, 3)` to their part in front of the near plane.

    Returns the cut starts and ends `(M, 3)` and the indices `(M,)` of the segments kept.
    """
    kept = np.flatnonzero((starts[:, 2] > NEAR_PLANE_M) | (ends[:, 2] > NEAR_PLANE_M))
    starts, ends = starts[kept], ends[kept]
    depth_a, depth_b = starts[:, 2:3], ends[:, 2:3]
    step = np.where(depth_a == depth_b, 1.0, depth_b - depth_a)
    crossing = starts + (NEAR_PLANE_M - depth_a) / step * (ends - starts)  # on the near plane
    starts = np.where(depth_a < NEAR_PLANE_M, crossing, starts)
    ends = np.where(depth_b < NEAR_PLANE_M, crossing, ends)
    return starts, ends, kept
