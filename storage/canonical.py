"""Placing motion in the canonical frame: facing, root trajectory, floor.

Owns the geometric conventions of the `MotionClip` contract that are computed rather than
declared: the facing direction (from the hip and shoulder lines), the root trajectory
`(x, z, yaw)` stored with every clip, and the normalisation that puts a clip's pelvis above the
origin at frame 0, facing +z, with the floor at y = 0. Numpy only, so every stage can call it.
"""

from __future__ import annotations

import numpy as np

from storage.skeleton import FOOT_JOINTS, JOINT_INDEX, PARENTS, REST_OFFSETS

_LEFT_HIP, _RIGHT_HIP = JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]
_LEFT_SHOULDER, _RIGHT_SHOULDER = JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]
_PELVIS = JOINT_INDEX["pelvis"]
_FOOT_INDICES = [JOINT_INDEX[name] for name in FOOT_JOINTS]


def facing_directions(positions: np.ndarray) -> np.ndarray:
    """Unit horizontal facing vectors `(T, 2)` as (x, z) from positions `(T, J, 3)`.

    The across-body vector (left minus right, hips plus shoulders) crossed with +y gives forward:
    with y up and the subject's left at +x, forward is +z.
    """
    across = (positions[:, _LEFT_HIP] - positions[:, _RIGHT_HIP]) + (
        positions[:, _LEFT_SHOULDER] - positions[:, _RIGHT_SHOULDER]
    )  # (T, 3)
    forward = np.stack([-across[:, 2], across[:, 0]], axis=-1)  # (T, 2): across x (0, 1, 0)
    norm = np.linalg.norm(forward, axis=-1, keepdims=True)
    return forward / np.maximum(norm, 1e-8)


def facing_yaw(positions: np.ndarray) -> np.ndarray:
    """Heading angle `(T,)` in radians about +y; 0 means facing +z, pi/2 facing +x."""
    forward = facing_directions(positions)  # (T, 2) as (x, z)
    return np.unwrap(np.arctan2(forward[:, 0], forward[:, 1]))


def root_trajectory(positions: np.ndarray) -> np.ndarray:
    """Root trajectory `(T, 3)` float32: pelvis ground position x, z and heading yaw."""
    pelvis = positions[:, _PELVIS]  # (T, 3)
    yaw = facing_yaw(positions)
    return np.stack([pelvis[:, 0], pelvis[:, 2], yaw], axis=-1).astype(np.float32)


def rotation_about_y(angle: float) -> np.ndarray:
    """3x3 rotation matrix turning vectors by `angle` radians about +y."""
    cos, sin = np.cos(angle), np.sin(angle)
    return np.array([[cos, 0.0, sin], [0.0, 1.0, 0.0], [-sin, 0.0, cos]])


def floor_height(positions: np.ndarray, percentile: float = 2.0) -> float:
    """Robust floor estimate: a low percentile of the foot joints' heights over the clip."""
    feet_heights = positions[:, _FOOT_INDICES, 1]
    return float(np.percentile(feet_heights, percentile))


FACING_WINDOW_FRAMES = 15  # half a second at 30 fps


def initial_yaw(positions: np.ndarray, window: int = FACING_WINDOW_FRAMES) -> float:
    """Heading at the start of a clip: the circular mean over its first `window` frames.

    One frame is too noisy for video-derived poses (a few degrees of depth noise in the hip and
    shoulder lines); half a second of a mocap clip barely turns.
    """
    forward = facing_directions(positions[:window]).mean(axis=0)  # (2,) as (x, z)
    if np.linalg.norm(forward) < 1e-8:
        forward = facing_directions(positions[:1])[0]
    return float(np.arctan2(forward[0], forward[1]))


def place_in_canonical_frame(positions: np.ndarray, put_on_floor: bool = True) -> np.ndarray:
    """Rotate and translate positions `(T, J, 3)` so the clip starts facing +z above the origin.

    The start heading is `initial_yaw`; the pelvis of frame 0 moves above the origin. The floor
    (see `floor_height`) moves to y = 0 unless `put_on_floor` is False (video clips whose
    vertical placement is estimated elsewhere).
    """
    first_yaw = initial_yaw(positions)
    rotation = rotation_about_y(-first_yaw)
    rotated = positions @ rotation.T  # (T, J, 3)
    offset = np.array([rotated[0, _PELVIS, 0], 0.0, rotated[0, _PELVIS, 2]])
    if put_on_floor:
        offset[1] = floor_height(rotated)
    return (rotated - offset).astype(np.float32)


REST_BONE_LENGTHS = np.linalg.norm(REST_OFFSETS, axis=-1)  # (J,) metres; the pelvis entry unused


def retarget_to_rest_lengths(positions: np.ndarray) -> np.ndarray:
    """Positions `(T, J, 3)` rebuilt with the canonical skeleton's bone lengths.

    Every bone keeps its direction in every frame and takes the canonical rest length, walking
    from the pelvis (which keeps its trajectory) down the hierarchy: the motion stays, the
    performer's proportions go (issue 15: in Bandai-2 the body proportions alone name the style
    group). Parents precede children in `PARENTS`, so one pass suffices.
    """
    out = np.empty_like(positions)  # (T, J, 3)
    out[:, 0] = positions[:, 0]
    for joint, parent in enumerate(PARENTS):
        if parent < 0:
            continue
        bone = positions[:, joint] - positions[:, parent]  # (T, 3)
        length = np.linalg.norm(bone, axis=-1, keepdims=True)  # (T, 1)
        direction = bone / np.maximum(length, 1e-8)
        out[:, joint] = out[:, parent] + direction * REST_BONE_LENGTHS[joint]
    return out
