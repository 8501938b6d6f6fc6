"""Canonical-skeleton positions -> BVH rotations, so any clip can be opened in a 3D package.

Owns the inverse of the importer: a clip's joint positions `(T, 19, 3)` (metres, y up) become a
BVH on the canonical hierarchy (joint names = `storage.skeleton.JOINT_NAMES`, End Sites on the
leaves) whose forward kinematics reproduces them. The rest pose takes its bone directions from
`storage.skeleton.REST_OFFSETS` (a T-pose) and its bone lengths from the clip's median lengths;
the children of the two multi-child joints (pelvis: spine + hips; chest: neck + shoulders) get
their rest offsets from the clip itself, in a joint frame with the canonical axes (y towards the
spine/neck child, x from the right child to the left one), so a rigid source skeleton comes back
exactly.

Those child offsets are read at one anchor frame (default 0), not as a median over frames: the
canonical shoulders are not rigid on the chest in any real source (the clavicles move them by up
to ~2 cm), and the importer places a clip by the facing of its hips and shoulders at frame 0, so
any shoulder error at frame 0 becomes a yaw of the whole re-imported clip, which a long run turns
into centimetres (measured on Bandai: median offsets give a worst-file mean round-trip error of
5.4 cm, anchoring at frame 0 gives 0.6 cm). `anchor_frame=None` takes the median instead.

Per frame, multi-child joints get a full rotation by Kabsch/SVD on their children's directions;
single-child joints get the minimal swing taking the parent-propagated rest direction onto the
bone (twist inherited from the parent, so it is continuous); leaves inherit their parent's
rotation. The root has 6 channels; so do the children of the pelvis and chest (their position
channels carry non-rigid attachments exactly, see `ATTACHED_JOINTS`); the others have 3.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from storage.bvh import BvhJoint, BvhMotion, matrix_to_euler, write_bvh
from storage.records import MotionClip
from storage.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS, REST_OFFSETS

EULER_ORDER = "ZXY"
ROTATION_CHANNELS = tuple(f"{axis}rotation" for axis in EULER_ORDER)
POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
ROOT_CHANNELS = POSITION_CHANNELS + ROTATION_CHANNELS

# Multi-child joint -> (child towards "up", left child, right child).
_FRAME_CHILDREN: dict[int, tuple[int, int, int]] = {
    JOINT_INDEX["pelvis"]: (
        JOINT_INDEX["spine"],
        JOINT_INDEX["left_hip"],
        JOINT_INDEX["right_hip"],
    ),
    JOINT_INDEX["chest"]: (
        JOINT_INDEX["neck"],
        JOINT_INDEX["left_shoulder"],
        JOINT_INDEX["right_shoulder"],
    ),
}
# Children of the multi-child joints (spine, hips, neck, shoulders) carry position channels: their
# attachment is not rigid in real sources (clavicles move the shoulders on the chest by ~2 cm;
# video-derived hips breathe), and a translation per frame reproduces them exactly.
ATTACHED_JOINTS: tuple[int, ...] = tuple(sorted(c for cs in _FRAME_CHILDREN.values() for c in cs))
_CHILDREN: tuple[tuple[int, ...], ...] = tuple(
    tuple(child for child, parent in enumerate(PARENTS) if parent == joint)
    for joint in range(NUM_JOINTS)
)
# End Sites of the leaves, metres in the leaf's rest frame: top of head, hands, toe tips.
_END_SITES_M: dict[str, tuple[float, float, float]] = {
    "head": (0.0, 0.12, 0.0),
    "left_wrist": (0.08, 0.0, 0.0),
    "right_wrist": (-0.08, 0.0, 0.0),
    "left_toe": (0.0, 0.0, 0.05),
    "right_toe": (0.0, 0.0, 0.05),
}
_EPSILON = 1e-9


def _normalise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors `(..., 3)` and a mask `(...)` of the ones long enough to have a direction."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    valid = norms[..., 0] > _EPSILON
    return vectors / np.maximum(norms, _EPSILON), valid


def _joint_frames(positions: np.ndarray, joint: int) -> np.ndarray:
    """Per-frame orthonormal frames `(T, 3, 3)` (columns x=left, y=up, z=forward) of a joint."""
    up_child, left, right = _FRAME_CHILDREN[joint]
    up, _ = _normalise(positions[:, up_child] - positions[:, joint])
    across = positions[:, left] - positions[:, right]
    across = across - np.sum(across * up, axis=-1, keepdims=True) * up
    x_axis, _ = _normalise(across)
    z_axis = np.cross(x_axis, up)
    return np.stack([x_axis, up, z_axis], axis=-1)


def rest_offsets(positions: np.ndarray, anchor_frame: int | None = 0) -> np.ndarray:
    """Rest offsets `(J, 3)` in the clip's units: canonical directions, the clip's lengths.

    Multi-child joints' children come from `anchor_frame` (None: the median over frames).
    """
    offsets = np.zeros((NUM_JOINTS, 3))
    for joint in range(1, NUM_JOINTS):
        bone = positions[:, joint] - positions[:, PARENTS[joint]]
        direction, _ = _normalise(REST_OFFSETS[joint].astype(np.float64))
        offsets[joint] = direction * np.median(np.linalg.norm(bone, axis=-1))
    for joint, children in _FRAME_CHILDREN.items():
        frames = _joint_frames(positions, joint)  # (T, 3, 3)
        for child in children:
            local = np.einsum("tab,ta->tb", frames, positions[:, child] - positions[:, joint])
            offsets[child] = (
                np.median(local, axis=0) if anchor_frame is None else local[anchor_frame]
            )
    return offsets


def _kabsch(rest: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Rotations `(T, 3, 3)` best taking rest directions `(K, 3)` onto current ones `(T, K, 3)`."""
    covariance = np.einsum("ka,tkb->tab", rest, current)  # (T, 3, 3)
    u, _, vt = np.linalg.svd(covariance)
    reflection = np.sign(np.linalg.det(np.swapaxes(vt, 1, 2) @ np.swapaxes(u, 1, 2)))
    correction = np.broadcast_to(np.eye(3), covariance.shape).copy()
    correction[:, 2, 2] = np.where(reflection == 0, 1.0, reflection)
    return np.swapaxes(vt, 1, 2) @ correction @ np.swapaxes(u, 1, 2)


def _skew(vectors: np.ndarray) -> np.ndarray:
    """Cross-product matrices `(T, 3, 3)` of vectors `(T, 3)`."""
    x, y, z = vectors[:, 0], vectors[:, 1], vectors[:, 2]
    zero = np.zeros_like(x)
    return np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(-1, 3, 3)


def _swing(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Minimal rotations `(T, 3, 3)` taking unit vectors `source` onto `target` (both `(T, 3)`).

    Rodrigues with K = skew(source x target): R = I + K + K^2 / (1 + cos); a half turn about an
    axis perpendicular to `source` where the two are opposite.
    """
    cos = np.sum(source * target, axis=-1)
    skew = _skew(np.cross(source, target))
    rotations = np.eye(3) + skew + (skew @ skew) / np.maximum(1.0 + cos, 1e-12)[:, None, None]
    opposite = cos < -1.0 + 1e-6
    if opposite.any():
        helper = np.where(np.abs(source[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        axis, _ = _normalise(np.cross(source, helper))
        half_turns = 2.0 * np.einsum("ta,tb->tab", axis, axis) - np.eye(3)
        rotations[opposite] = half_turns[opposite]
    return rotations


def _global_rotation(
    positions: np.ndarray, offsets: np.ndarray, rotations: np.ndarray, joint: int
) -> np.ndarray:
    """Global rotation `(T, 3, 3)` of one joint given its parent's (already in `rotations`)."""
    children = _CHILDREN[joint]
    parent_rotation = rotations[:, PARENTS[joint]] if PARENTS[joint] >= 0 else None
    if len(children) > 1:
        rest, _ = _normalise(offsets[list(children)])  # (K, 3)
        current, _ = _normalise(positions[:, list(children)] - positions[:, joint, None])
        return _kabsch(rest, current)
    if not children:
        return parent_rotation
    rest_direction, _ = _normalise(offsets[children[0]])
    propagated = parent_rotation @ rest_direction  # (T, 3)
    current, valid = _normalise(positions[:, children[0]] - positions[:, joint])
    current = np.where(valid[:, None], current, propagated)  # a zero-length bone keeps its pose
    return _swing(propagated, current) @ parent_rotation


def solve_rotations(positions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Global rotations `(T, J, 3, 3)` of every joint on the rest pose `offsets`."""
    rotations = np.empty(positions.shape[:2] + (3, 3))
    for joint in range(NUM_JOINTS):  # parents come first in the canonical order
        rotations[:, joint] = _global_rotation(positions, offsets, rotations, joint)
    return rotations


def _local_euler(rotations: np.ndarray) -> np.ndarray:
    """Local Euler angles `(T, J, 3)` in degrees, `EULER_ORDER`, unwrapped over time."""
    local = rotations.copy()
    for joint in range(1, NUM_JOINTS):
        parent = rotations[:, PARENTS[joint]]
        local[:, joint] = np.swapaxes(parent, 1, 2) @ rotations[:, joint]
    angles = matrix_to_euler(local.reshape(-1, 3, 3), EULER_ORDER).reshape(local.shape[:2] + (3,))
    return np.unwrap(angles, period=360.0, axis=0)


def _canonical_joints(
    offsets: np.ndarray, units_scale: float, attached: bool
) -> tuple[BvhJoint, ...]:
    joints = []
    for joint, name in enumerate(JOINT_NAMES):
        end_site = None
        if not _CHILDREN[joint]:
            end_site = np.array(_END_SITES_M[name]) * units_scale
        translated = PARENTS[joint] < 0 or (attached and joint in ATTACHED_JOINTS)
        channels = ROOT_CHANNELS if translated else ROTATION_CHANNELS
        joints.append(BvhJoint(name, PARENTS[joint], offsets[joint], channels, end_site))
    return tuple(joints)


def _channel_values(
    positions: np.ndarray, rotations: np.ndarray, units_scale: float, attached: bool
) -> np.ndarray:
    """Frame values `(T, C)`: root position, then per joint (translation and) Euler angles."""
    angles = _local_euler(rotations)  # (T, J, 3)
    columns = []
    for joint in range(NUM_JOINTS):
        parent = PARENTS[joint]
        if parent < 0:
            columns.append(positions[:, joint] * units_scale)
        elif attached and joint in ATTACHED_JOINTS:
            bone = positions[:, joint] - positions[:, parent]  # (T, 3) world
            local = np.einsum("tab,ta->tb", rotations[:, parent], bone)  # R_parent^T @ bone
            columns.append(local * units_scale)
        columns.append(angles[:, joint])
    return np.concatenate(columns, axis=1)


def clip_to_bvh(
    positions: np.ndarray,
    fps: float,
    units_scale: float = 100.0,
    anchor_frame: int | None = 0,
    attached_translations: bool = True,
) -> BvhMotion:
    """A BVH motion on the canonical hierarchy from positions `(T, 19, 3)` in metres.

    `units_scale` converts metres to the file's unit (100: centimetres). The root's OFFSET is 0
    and its position channels carry the pelvis, so readers that add or replace agree.
    `anchor_frame`: see the module docstring. `attached_translations`: position channels on the
    children of the pelvis and chest (see `ATTACHED_JOINTS`), which makes the round trip exact
    for any source; False gives a rotation-only hierarchy below the root.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[1:] != (NUM_JOINTS, 3) or positions.shape[0] < 1:
        raise ValueError(
            f"positions must be (T, {NUM_JOINTS}, 3) with T >= 1, got {positions.shape}"
        )
    if not np.isfinite(positions).all():
        raise ValueError("positions hold NaN or infinite values")
    offsets = rest_offsets(positions, anchor_frame)
    offsets[0] = 0.0
    rotations = solve_rotations(positions, offsets)  # (T, J, 3, 3)
    values = _channel_values(positions, rotations, units_scale, attached_translations)
    joints = _canonical_joints(offsets * units_scale, units_scale, attached_translations)
    return BvhMotion(joints, 1.0 / fps, values)


def write_clip_bvh(clip: MotionClip, path: str | Path, units_scale: float = 100.0) -> None:
    """Write a clip as a BVH file on the canonical hierarchy (centimetres by default)."""
    write_bvh(clip_to_bvh(clip.positions, clip.fps, units_scale), path)
