"""The canonical skeleton every stage exchanges motion on.

Owns the joint list, the parent table, the rest offsets (a T-pose in metres), the body-part
groups and the left/right mirror table. Conventions: metres, y up, 30 fps, a clip faces +z at its
first frame, so the subject's left is +x. Every source (MediaPipe's 33 landmarks, each BVH
skeleton family) reaches this skeleton through an explicit map in `storage.joint_maps`.

There are 19 joints. Hands, fingers and the top of the head are left out on purpose: the Bandai
Namco BVH set ends its arms at the wrist and its head chain at the skull base (zero-length end
sites), so those points cannot be derived from every source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SKELETON_NAME = "canonical-v1"
CANONICAL_FPS = 30.0
UP_AXIS = 1  # y

JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "spine",
    "chest",
    "neck",
    "head",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_hip",
    "left_knee",
    "left_ankle",
    "left_toe",
    "right_hip",
    "right_knee",
    "right_ankle",
    "right_toe",
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {name: index for index, name in enumerate(JOINT_NAMES)}

_PARENT_NAMES: dict[str, str | None] = {
    "pelvis": None,
    "spine": "pelvis",
    "chest": "spine",
    "neck": "chest",
    "head": "neck",
    "left_shoulder": "chest",
    "left_elbow": "left_shoulder",
    "left_wrist": "left_elbow",
    "right_shoulder": "chest",
    "right_elbow": "right_shoulder",
    "right_wrist": "right_elbow",
    "left_hip": "pelvis",
    "left_knee": "left_hip",
    "left_ankle": "left_knee",
    "left_toe": "left_ankle",
    "right_hip": "pelvis",
    "right_knee": "right_hip",
    "right_ankle": "right_knee",
    "right_toe": "right_ankle",
}
PARENTS: tuple[int, ...] = tuple(
    -1 if _PARENT_NAMES[name] is None else JOINT_INDEX[_PARENT_NAMES[name]] for name in JOINT_NAMES
)

# T-pose of an adult about 1.75 m tall, offsets from the parent joint in metres.
# The pelvis entry is its height above the floor.
_REST_OFFSETS: dict[str, tuple[float, float, float]] = {
    "pelvis": (0.0, 0.95, 0.0),
    "spine": (0.0, 0.10, 0.0),
    "chest": (0.0, 0.15, 0.0),
    "neck": (0.0, 0.22, 0.0),
    "head": (0.0, 0.10, 0.0),
    "left_shoulder": (0.18, 0.20, 0.0),
    "left_elbow": (0.28, 0.0, 0.0),
    "left_wrist": (0.25, 0.0, 0.0),
    "right_shoulder": (-0.18, 0.20, 0.0),
    "right_elbow": (-0.28, 0.0, 0.0),
    "right_wrist": (-0.25, 0.0, 0.0),
    "left_hip": (0.09, -0.05, 0.0),
    "left_knee": (0.0, -0.42, 0.0),
    "left_ankle": (0.0, -0.40, 0.0),
    "left_toe": (0.0, -0.06, 0.14),
    "right_hip": (-0.09, -0.05, 0.0),
    "right_knee": (0.0, -0.42, 0.0),
    "right_ankle": (0.0, -0.40, 0.0),
    "right_toe": (0.0, -0.06, 0.14),
}
REST_OFFSETS = np.array([_REST_OFFSETS[name] for name in JOINT_NAMES], dtype=np.float32)  # (J, 3)

BODY_PARTS: dict[str, tuple[str, ...]] = {
    "torso": ("pelvis", "spine", "chest", "neck", "head"),
    "left_arm": ("left_shoulder", "left_elbow", "left_wrist"),
    "right_arm": ("right_shoulder", "right_elbow", "right_wrist"),
    "left_leg": ("left_hip", "left_knee", "left_ankle", "left_toe"),
    "right_leg": ("right_hip", "right_knee", "right_ankle", "right_toe"),
}
BODY_PART_NAMES: tuple[str, ...] = tuple(BODY_PARTS)
BODY_PART_INDICES: dict[str, tuple[int, ...]] = {
    part: tuple(JOINT_INDEX[name] for name in names) for part, names in BODY_PARTS.items()
}

FOOT_JOINTS: tuple[str, ...] = ("left_ankle", "left_toe", "right_ankle", "right_toe")


def _mirror_name(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[len("left_") :]
    if name.startswith("right_"):
        return "left_" + name[len("right_") :]
    return name


MIRROR_INDEX: tuple[int, ...] = tuple(JOINT_INDEX[_mirror_name(name)] for name in JOINT_NAMES)


@dataclass(frozen=True)
class BoneTable:
    """Child/parent index pairs of every bone, for drawing and bone-length checks."""

    children: tuple[int, ...]
    parents: tuple[int, ...]


BONES = BoneTable(
    children=tuple(j for j, p in enumerate(PARENTS) if p >= 0),
    parents=tuple(p for p in PARENTS if p >= 0),
)


def rest_positions(offsets: np.ndarray = REST_OFFSETS) -> np.ndarray:
    """Global joint positions `(J, 3)` of the rest pose built from parent offsets `(J, 3)`."""
    positions = np.zeros_like(offsets)
    for joint, parent in enumerate(PARENTS):
        base = positions[parent] if parent >= 0 else 0.0
        positions[joint] = base + offsets[joint]
    return positions


def bone_lengths(positions: np.ndarray) -> np.ndarray:
    """Bone lengths `(..., J-1)` of positions `(..., J, 3)`, in the order of `BONES`."""
    children = np.asarray(BONES.children)
    parents = np.asarray(BONES.parents)
    return np.linalg.norm(positions[..., children, :] - positions[..., parents, :], axis=-1)
