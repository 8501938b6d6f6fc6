"""Tests of `storage.rig_matching` (name conventions + hierarchy, geometry check) and of the
user joint maps of `storage.joint_maps`, on name lists and on the real sample hierarchies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from storage.bvh import read_bvh
from storage.errors import UserInputError
from storage.joint_maps import (
    BANDAI_22,
    CMU_31,
    M21,
    UnknownSkeletonError,
    detect_skeleton_map,
    user_joint_map,
)
from storage.rig_matching import (
    MATCHED_MAP_NAME,
    RigGeometryError,
    check_rig_geometry,
    match_rig,
    parse_joint_name,
)
from storage.skeleton import JOINT_INDEX, JOINT_NAMES, rest_positions

# Bandai Namco's 22-joint tree (joint_Root, Hips, Spine, Chest, Neck, Head, arms, legs).
BANDAI_NAMES = (
    "joint_Root", "Hips", "Spine", "Chest", "Neck", "Head",
    "Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L",
    "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R",
    "UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L",
    "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R",
)  # fmt: skip
BANDAI_PARENTS = (-1, 0, 1, 2, 3, 4, 3, 6, 7, 8, 3, 10, 11, 12, 1, 14, 15, 16, 1, 18, 19, 20)


def _tree(spec: list[tuple[str, str | None]]) -> tuple[list[str], list[int]]:
    """Names and parent indices from (name, parent name) pairs in depth-first order."""
    names = [name for name, _ in spec]
    return names, [-1 if parent is None else names.index(parent) for _, parent in spec]


def _chain(parent: str, *names: str) -> list[tuple[str, str | None]]:
    return [(name, names[i - 1] if i else parent) for i, name in enumerate(names)]


def _sources(skeleton_map) -> dict[str, str]:
    return {joint: sources[0][0] for joint, sources in skeleton_map.joint_sources.items()}


def _mixamo() -> tuple[list[str], list[int]]:
    """A real Mixamo layout: three spine joints, fingers, end joints, a namespace."""
    spec = [("Hips", None), *_chain("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head")]
    spec.append(("HeadTop_End", "Head"))
    for side in ("Left", "Right"):
        spec += _chain("Spine2", *(side + n for n in ("Shoulder", "Arm", "ForeArm", "Hand")))
        spec += _chain(f"{side}Hand", f"{side}HandIndex1", f"{side}HandIndex2")
    for side in ("Left", "Right"):
        spec += _chain("Hips", *(side + n for n in ("UpLeg", "Leg", "Foot", "ToeBase", "Toe_End")))
    names, parents = _tree(spec)
    return ["mixamorig:" + name for name in names], parents


# ------------------------------------------------------------------------------ joint names


@pytest.mark.parametrize(
    ("name", "side", "role"),
    [
        ("mixamorig:LeftForeArm", "left", "forearm"),
        ("Armature|mixamorig:RightUpLeg", "right", "thigh"),
        ("DEF-upper_arm.L.001", "left", "upperarm"),
        ("thigh.R", "right", "thigh"),
        ("L_Hip", "left", "hip"),
        ("left_foot", "left", "foot"),
        ("lhumerus", "left", "upperarm"),
        ("rtibia", "right", "shin"),
        ("LHipJoint", "left", "hip"),
        ("Character1_LeftUpLeg", "left", "thigh"),
        ("Bip01_R_Calf", "right", "shin"),
        ("ball_l", "left", "toe"),
        ("Hips", None, "pelvis"),
        ("lowerback", None, "spine"),
        ("spine.003", None, "spine"),
        ("LeftShoulder", "left", "shoulder"),
        ("LeftCollar", "left", "collar"),
        ("LeftToe_End", None, None),
        ("ik_hand_l", None, None),
        ("upperarm_twist_01_l", None, None),
        ("LeftHandIndex1", "left", None),
        ("Root", None, None),
        ("j7", None, None),
    ],
)
def test_joint_names_read_as_side_and_role(name: str, side: str | None, role: str | None) -> None:
    parsed = parse_joint_name(name)
    assert (parsed.side, parsed.role) == (side, role)


def test_numbers_order_the_spine() -> None:
    assert parse_joint_name("spine.002").number == 2
    assert parse_joint_name("Bip01_Spine").number == -1  # the 01 belongs to Bip, not Spine
    assert parse_joint_name("Spine1").number == 1


# ------------------------------------------------------------------------------ matching


def test_mixamo_shoulder_is_the_clavicle_and_the_chest_is_where_the_arms_meet() -> None:
    names, parents = _mixamo()
    skeleton_map = detect_skeleton_map(names, parents)
    assert skeleton_map.inferred and skeleton_map.name == MATCHED_MAP_NAME
    sources = _sources(skeleton_map)
    assert sources["pelvis"] == "Hips" and sources["spine"] == "Spine"
    assert sources["chest"] == "Spine2" and sources["neck"] == "Neck" and sources["head"] == "Head"
    assert sources["left_shoulder"] == "LeftArm" and sources["left_wrist"] == "LeftHand"
    assert sources["right_elbow"] == "RightForeArm"
    assert sources["left_ankle"] == "LeftFoot" and sources["left_toe"] == "LeftToeBase"
    assert sources["right_hip"] == "RightUpLeg" and sources["right_knee"] == "RightLeg"


def test_a_mixamo_rig_is_not_taken_for_cmu_31() -> None:
    """Every CMU-31 name is in a Mixamo file, but its arms meet at Spine2, not Spine1."""
    names, parents = _mixamo()
    assert set(CMU_31.source_names) <= {name.split(":")[1] for name in names}
    assert detect_skeleton_map(names) is CMU_31  # names only: the old answer
    assert _sources(detect_skeleton_map(names, parents))["chest"] == "Spine2"


def test_known_families_keep_their_maps_with_the_hierarchy(bandai_dir: Path, m21_dir: Path) -> None:
    bandai = read_bvh(bandai_dir / "dataset-1_walk_normal_001.bvh")
    m21 = read_bvh(m21_dir / "content" / "walk.bvh")
    assert detect_skeleton_map(bandai.joint_names, bandai.parents) is BANDAI_22
    assert detect_skeleton_map(m21.joint_names, m21.parents) is M21
    # and the conventions alone find the same joints in both
    assert _sources(match_rig(bandai.joint_names, bandai.parents)) == _sources(BANDAI_22)
    assert _sources(match_rig(m21.joint_names, m21.parents)) == _sources(M21)


def test_vicon_shoulder_is_the_upper_arm_below_a_collar() -> None:
    rename = {"Spine": "Ab", "Shoulder": "Collar", "UpperArm": "Shoulder", "LowerArm": "Elbow"}
    rename |= {"Hand": "Wrist", "UpperLeg": "Hip", "LowerLeg": "Knee", "Foot": "Ankle"}
    rename |= {"Toes": "Toe"}
    names = []
    for name in BANDAI_NAMES:
        base, _, suffix = name.partition("_")
        side = {"L": "Left", "R": "Right"}.get(suffix, "")
        names.append(side + rename.get(base, base) if side else rename.get(name, name))
    sources = _sources(match_rig(names, BANDAI_PARENTS))
    assert sources["spine"] == "Ab" and sources["chest"] == "Chest"
    assert sources["left_shoulder"] == "LeftShoulder" and sources["right_elbow"] == "RightElbow"
    assert sources["left_hip"] == "LeftHip" and sources["right_toe"] == "RightToe"


def test_smpl_foot_is_the_toe_below_the_ankle() -> None:
    spec = [("pelvis", None), *_chain("pelvis", "spine1", "spine2", "spine3", "neck", "head")]
    for side in ("left", "right"):
        spec += _chain("pelvis", *(f"{side}_{n}" for n in ("hip", "knee", "ankle", "foot")))
        spec += _chain("spine3", *(f"{side}_{n}" for n in ("collar", "shoulder", "elbow")))
        spec += _chain(f"{side}_elbow", f"{side}_wrist", f"{side}_hand")
    sources = _sources(match_rig(*_tree(spec)))
    assert sources["spine"] == "spine1" and sources["chest"] == "spine3"
    assert sources["left_shoulder"] == "left_shoulder" and sources["left_wrist"] == "left_wrist"
    assert sources["left_ankle"] == "left_ankle" and sources["left_toe"] == "left_foot"


def test_unreal_rig_skips_ik_and_twist_bones() -> None:
    spec = [("root", None), ("ik_foot_root", "root"), ("ik_foot_l", "ik_foot_root")]
    spec += [("ik_hand_root", "root"), ("ik_hand_l", "ik_hand_root"), ("pelvis", "root")]
    spec += _chain("pelvis", "spine_01", "spine_02", "spine_03", "neck_01", "head")
    for s in ("l", "r"):
        spec += _chain("spine_03", f"clavicle_{s}", f"upperarm_{s}", f"lowerarm_{s}")
        spec += _chain(f"lowerarm_{s}", f"lowerarm_twist_01_{s}", f"hand_{s}")
        spec += _chain("pelvis", f"thigh_{s}", f"calf_{s}", f"foot_{s}", f"ball_{s}")
    sources = _sources(match_rig(*_tree(spec)))
    assert sources["pelvis"] == "pelvis" and sources["spine"] == "spine_01"
    assert sources["left_wrist"] == "hand_l" and sources["left_elbow"] == "lowerarm_l"
    assert sources["left_ankle"] == "foot_l" and sources["right_toe"] == "ball_r"


def test_biped_clavicles_on_the_neck_and_thighs_on_the_spine() -> None:
    spec = [("Bip01", None), ("Bip01_Pelvis", "Bip01"), ("Bip01_Spine", "Bip01_Pelvis")]
    spec += _chain("Bip01_Spine", "Bip01_Spine1", "Bip01_Spine2", "Bip01_Neck", "Bip01_Head")
    for s in ("L", "R"):
        spec += _chain(
            "Bip01_Spine", *(f"Bip01_{s}_{n}" for n in ("Thigh", "Calf", "Foot", "Toe0"))
        )
        arm = ("Clavicle", "UpperArm", "Forearm", "Hand")
        spec += _chain("Bip01_Neck", *(f"Bip01_{s}_{n}" for n in arm))
    sources = _sources(match_rig(*_tree(spec)))
    assert sources["pelvis"] == "Bip01_Pelvis" and sources["spine"] == "Bip01_Spine"
    assert sources["chest"] == "Bip01_Spine2" and sources["neck"] == "Bip01_Neck"
    assert sources["left_shoulder"] == "Bip01_L_UpperArm" and sources["right_toe"] == "Bip01_R_Toe0"


def test_rigify_head_is_the_end_of_the_spine_chain() -> None:
    spec = [("root", None), *_chain("root", *(f"DEF-spine.{i:03d}" for i in range(7)))]
    spec[1] = ("DEF-spine", "root")
    spec[2] = ("DEF-spine.001", "DEF-spine")
    for s in ("L", "R"):
        arm = ("shoulder", "upper_arm", "upper_arm.{}.001", "forearm", "forearm.{}.001", "hand")
        spec += _chain("DEF-spine.003", *(f"DEF-{n}.{s}".replace(".{}", "") for n in arm))
        spec += _chain("DEF-spine", *(f"DEF-{n}.{s}" for n in ("thigh", "shin", "foot", "toe")))
    names, parents = _tree(spec)
    sources = _sources(match_rig(names, parents))
    assert sources["pelvis"] == "DEF-spine" and sources["spine"] == "DEF-spine.001"
    assert sources["chest"] == "DEF-spine.003" and sources["neck"] == "DEF-spine.004"
    assert sources["head"] == "DEF-spine.006"
    assert (
        sources["left_shoulder"] == "DEF-upper_arm.L" and sources["left_elbow"] == "DEF-forearm.L"
    )


def test_unmatched_rig_is_one_line_naming_missing_joints_and_the_way_out() -> None:
    names = [f"j{i}" for i in range(len(BANDAI_NAMES))]
    with pytest.raises(UnknownSkeletonError) as caught:
        detect_skeleton_map(names, BANDAI_PARENTS)
    message = str(caught.value)
    assert isinstance(caught.value, UserInputError) and "\n" not in message
    assert (
        "conventions find no pelvis, spine, chest" in message
        and "joints left unused: j0, j1" in message
    )
    assert "--joint-map FILE" in message and all(joint in message for joint in JOINT_NAMES)


def test_partly_matched_rig_names_only_what_is_missing() -> None:
    names = [name.replace("Hand_L", "Mitten_L") for name in BANDAI_NAMES]
    names += [f"extra_{i}_{'x' * 40}" for i in range(40)]
    parents = list(BANDAI_PARENTS) + [0] * 40
    with pytest.raises(UnknownSkeletonError) as caught:
        match_rig(names, parents)
    message = str(caught.value)
    gives = message.split("find no ")[1].split(";")[0]
    assert gives == "left_wrist"
    assert "Mitten_L" in message and "more characters" in message and len(message) < 1000


# ------------------------------------------------------------------------------ geometry


def test_rest_pose_passes_the_geometry_check() -> None:
    check_rig_geometry(rest_positions())


def test_left_right_swap_is_named() -> None:
    positions = rest_positions()
    swapped = positions.copy()
    for joint in JOINT_NAMES:
        if joint.startswith("left_"):
            left, right = JOINT_INDEX[joint], JOINT_INDEX["right_" + joint[5:]]
            swapped[[left, right]] = positions[[right, left]]
    skeleton_map = user_joint_map({j: f"src_{j}" for j in JOINT_NAMES}, "test")
    with pytest.raises(RigGeometryError) as caught:
        check_rig_geometry(swapped, skeleton_map)
    message = str(caught.value)
    assert "left_hip (src_left_hip) lies on the subject's right" in message
    assert "left_shoulder" in message and "swapped" in message and "--joint-map" in message


def test_implausible_proportions_and_upside_down_head_are_named() -> None:
    positions = rest_positions()
    positions[JOINT_INDEX["left_ankle"]] = positions[JOINT_INDEX["left_knee"]] + [0, -0.05, 0]
    positions[JOINT_INDEX["head"]] = positions[JOINT_INDEX["pelvis"]] - [0, 0.3, 0]
    with pytest.raises(RigGeometryError) as caught:
        check_rig_geometry(positions)
    message = str(caught.value)
    assert "left_knee -> left_ankle 0.05" in message and "the left leg" in message
    assert "head is not above pelvis" in message and "right_" not in message.split(";")[0]


# ------------------------------------------------------------------------------ user maps


def test_user_map_refusals_name_the_entries() -> None:
    pairs = {joint: f"src_{joint}" for joint in JOINT_NAMES}
    assert user_joint_map(pairs, "m.yaml").joint_sources["head"] == (("src_head", 1.0),)
    bad = {k: v for k, v in pairs.items() if k != "neck"} | {"pelvs": "x", "head": ["a"]}
    with pytest.raises(UnknownSkeletonError) as caught:
        user_joint_map(bad, "m.yaml")
    message = str(caught.value)
    assert message.startswith("joint map m.yaml: unknown canonical joints: 'pelvs'")
    assert "missing canonical joints: neck" in message and "not a name for: head" in message
    with pytest.raises(UnknownSkeletonError, match="not in the file: 'src_pelvis'"):
        user_joint_map(pairs, "m.yaml", [f"ns:src_{j}" for j in JOINT_NAMES if j != "pelvis"])
    assert user_joint_map(pairs, "m.yaml", [f"ns:src_{j}" for j in JOINT_NAMES]).name == "m.yaml"
    with pytest.raises(UnknownSkeletonError, match="expected a mapping"):
        user_joint_map(["pelvis"], "m.yaml")


def test_geometry_check_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="finite"):
        check_rig_geometry(np.full((19, 3), np.nan))
