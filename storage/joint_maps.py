"""Explicit name maps from source skeletons onto the canonical 19-joint skeleton.

Owns the contract "every source reaches `storage.skeleton` through an explicit map": for each
skeleton family (Bandai Namco's 22 joints, the semi_mst m21 set, the common CMU 31-joint naming,
our own exported canonical BVH, MediaPipe's 33 pose landmarks) a `SkeletonMap` gives every
canonical joint as a weighted average of source joints (weights sum to 1, so derived points such
as MediaPipe's pelvis are means). `detect_skeleton_map` picks the family of a joint-name list
(namespace prefixes such as "mixamorig:" stripped) and, given the parents, falls back on
`storage.rig_matching` for any other rig; `user_joint_map` checks a map a user wrote for a rig
nothing matches; `apply_joint_map` maps positions with one weight-matrix product.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from storage.errors import cut_message, short_repr
from storage.rig_matching import fits_hierarchy, match_rig
from storage.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS
from storage.skeleton_map import (
    JointSources,
    SkeletonMap,
    UnknownSkeletonError,
    joint_map_help,
    strip_namespace,
)


def _one_to_one(pairs: Mapping[str, str]) -> dict[str, JointSources]:
    return {joint: ((pairs[joint], 1.0),) for joint in JOINT_NAMES}


def _limbs(side: str, names: Sequence[str], legs: bool = False) -> dict[str, str]:
    """Map one side's arm (shoulder, elbow, wrist) or leg (hip, knee, ankle, toe) onto `names`."""
    joints = ("hip", "knee", "ankle", "toe") if legs else ("shoulder", "elbow", "wrist")
    return {f"{side}_{joint}": name for joint, name in zip(joints, names, strict=True)}


BANDAI_22 = SkeletonMap(
    "bandai-22",
    _one_to_one(
        {"pelvis": "Hips", "spine": "Spine", "chest": "Chest", "neck": "Neck", "head": "Head"}
        | _limbs("left", ("UpperArm_L", "LowerArm_L", "Hand_L"))
        | _limbs("left", ("UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L"), legs=True)
        | _limbs("right", ("UpperArm_R", "LowerArm_R", "Hand_R"))
        | _limbs("right", ("UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R"), legs=True)
    ),
    family_joints=(
        "joint_Root", "Hips", "Spine", "Chest", "Neck", "Head",
        "Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L",
        "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R",
        "UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L",
        "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R",
    ),
)  # fmt: skip


def _cmu_style_limbs(side: str) -> dict[str, str]:
    prefix = side.capitalize()
    arm = tuple(prefix + name for name in ("Arm", "ForeArm", "Hand"))
    leg = tuple(prefix + name for name in ("UpLeg", "Leg", "Foot", "ToeBase"))
    return _limbs(side, arm) | _limbs(side, leg, legs=True)


_CMU_LIMBS = _cmu_style_limbs("left") | _cmu_style_limbs("right")
_CMU_LIMB_FAMILY = tuple(
    f"{side}{name}"
    for side in ("Left", "Right")
    for name in ("Shoulder", "Arm", "ForeArm", "Hand", "UpLeg", "Leg", "Foot", "ToeBase")
)

M21 = SkeletonMap(
    "m21",
    _one_to_one(
        {"pelvis": "Hips", "spine": "Spine", "chest": "Spine1", "neck": "Neck1", "head": "Head"}
        | _CMU_LIMBS
    ),
    family_joints=("Hips", "Spine", "Spine1", "Neck1", "Head") + _CMU_LIMB_FAMILY,
)

CMU_31 = SkeletonMap(
    "cmu-31",
    _one_to_one(
        {"pelvis": "Hips", "spine": "Spine", "chest": "Spine1", "neck": "Neck", "head": "Head"}
        | _CMU_LIMBS
    ),
    family_joints=(
        ("Hips", "LHipJoint", "RHipJoint", "LowerBack", "Spine", "Spine1", "Neck", "Neck1")
        + ("Head", "LeftFingerBase", "LeftHandIndex1", "LThumb")
        + ("RightFingerBase", "RightHandIndex1", "RThumb")
        + _CMU_LIMB_FAMILY
    ),
)

CANONICAL = SkeletonMap("canonical", _one_to_one({name: name for name in JOINT_NAMES}))

MEDIAPIPE_LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_pinky", "right_pinky",
    "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)  # fmt: skip


def _mediapipe_sources() -> dict[str, JointSources]:
    """Landmarks for the limbs; pelvis/neck/head as means; spine and chest on the trunk line."""
    hips = (("left_hip", 0.5), ("right_hip", 0.5))
    shoulders = (("left_shoulder", 0.5), ("right_shoulder", 0.5))
    sources: dict[str, JointSources] = {
        "pelvis": hips,
        "spine": tuple((name, w * 2 / 3) for name, w in hips)
        + tuple((name, w / 3) for name, w in shoulders),
        "chest": tuple((name, w / 3) for name, w in hips)
        + tuple((name, w * 2 / 3) for name, w in shoulders),
        "neck": shoulders,
        "head": (("left_ear", 0.5), ("right_ear", 0.5)),
    }
    for side in ("left", "right"):
        for joint in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
            sources[f"{side}_{joint}"] = ((f"{side}_{joint}", 1.0),)
        sources[f"{side}_toe"] = ((f"{side}_foot_index", 1.0),)
    return sources


MEDIAPIPE_33 = SkeletonMap(
    "mediapipe-33", _mediapipe_sources(), family_joints=MEDIAPIPE_LANDMARK_NAMES
)

SKELETON_MAPS: tuple[SkeletonMap, ...] = (BANDAI_22, CMU_31, M21, CANONICAL, MEDIAPIPE_33)


def detect_skeleton_map(
    joint_names: Sequence[str], parents: Sequence[int] | None = None
) -> SkeletonMap:
    """The map whose source joints are all present; ties go to the best-covered family.

    With `parents` (a BVH hierarchy) a family must also fit the tree (its chest where the arms
    meet, its pelvis where the legs meet), and a file no family fits is matched by joint-name
    conventions (`storage.rig_matching.match_rig`), whose refusal says how to write a map.
    """
    present = {strip_namespace(name) for name in joint_names}
    candidates = [m for m in SKELETON_MAPS if set(m.source_names) <= present]
    if parents is not None:
        candidates = [m for m in candidates if fits_hierarchy(m, joint_names, parents)]
        if not candidates:
            return match_rig(joint_names, parents)
    if not candidates:
        tried = ", ".join(m.name for m in SKELETON_MAPS)
        raise UnknownSkeletonError(
            f"no known skeleton family matches the joints {sorted(present)}; tried {tried}"
        )
    return max(candidates, key=lambda m: len(present & set(m.family_joints)))


def joint_map_weights(source_names: Sequence[str], skeleton_map: SkeletonMap) -> np.ndarray:
    """Weight matrix `(19, S)`: canonical positions = weights @ source positions."""
    index: dict[str, int] = {}
    for column, name in enumerate(source_names):
        index.setdefault(strip_namespace(name), column)
    missing = [name for name in skeleton_map.source_names if name not in index]
    if missing:
        raise UnknownSkeletonError(
            f"map {skeleton_map.name} needs joints {missing}, not among {list(source_names)}"
        )
    weights = np.zeros((NUM_JOINTS, len(source_names)))
    for row, joint in enumerate(JOINT_NAMES):
        for name, weight in skeleton_map.joint_sources[joint]:
            weights[row, index[name]] += weight
    return weights


def apply_joint_map(
    source_names: Sequence[str], source_positions: np.ndarray, skeleton_map: SkeletonMap
) -> np.ndarray:
    """Canonical positions `(T, 19, 3)` from source positions `(T, S, 3)`."""
    positions = np.asarray(source_positions)
    if positions.ndim != 3 or positions.shape[1:] != (len(source_names), 3):
        raise ValueError(
            f"source_positions must be (T, {len(source_names)}, 3), got {positions.shape}"
        )
    weights = joint_map_weights(source_names, skeleton_map)  # (19, S)
    return np.einsum("js,tsc->tjc", weights, positions)


def user_joint_map(
    pairs: object, name: str, joint_names: Sequence[str] | None = None
) -> SkeletonMap:
    """A `SkeletonMap` from a user's `{canonical joint: source joint}` mapping, checked.

    Unknown or missing canonical names and non-text sources are refused in one line; with
    `joint_names` (a file's joints), so are source joints the file does not hold.
    """
    if not isinstance(pairs, Mapping):
        raise UnknownSkeletonError(
            f"joint map {name}: expected a mapping `canonical: source_joint`, got "
            f"{short_repr(pairs)}: {joint_map_help()}"
        )
    unknown = [short_repr(key) for key in pairs if key not in JOINT_INDEX]
    missing = [joint for joint in JOINT_NAMES if joint not in pairs]
    not_text = [joint for joint in JOINT_NAMES if joint in pairs and not _is_name(pairs[joint])]
    problems = [
        f"{what}: {cut_message(', '.join(names), 200)}"
        for what, names in (
            ("unknown canonical joints", unknown),
            ("missing canonical joints", missing),
            ("source joint is not a name for", not_text),
        )
        if names
    ]
    if not problems and joint_names is not None:
        present = {strip_namespace(joint) for joint in joint_names}
        absent = [
            short_repr(pairs[joint])
            for joint in JOINT_NAMES
            if strip_namespace(pairs[joint]) not in present
        ]
        if absent:
            problems.append(
                f"source joints not in the file: {cut_message(', '.join(absent), 200)} "
                f"(the file has {cut_message(', '.join(sorted(present)), 200)})"
            )
    if problems:
        raise UnknownSkeletonError(
            f"joint map {name}: {'; '.join(problems)}; expected {joint_map_help()}"
        )
    return SkeletonMap(
        name, {joint: ((strip_namespace(pairs[joint]), 1.0),) for joint in JOINT_NAMES}
    )


def _is_name(value: object) -> bool:
    return isinstance(value, str) and bool(strip_namespace(value)) and len(value) <= 1000
