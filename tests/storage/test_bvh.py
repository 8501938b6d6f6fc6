"""Tests of `storage.bvh` (format, FK, Euler angles) and `storage.joint_maps` on real files."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

import storage.bvh
from storage.bvh import (
    BvhFormatError,
    BvhJoint,
    BvhMotion,
    euler_to_matrix,
    format_bvh,
    forward_kinematics,
    matrix_to_euler,
    parse_bvh,
    read_bvh,
    write_bvh,
)
from storage.errors import UserInputError
from storage.joint_maps import (
    BANDAI_22,
    CANONICAL,
    CMU_31,
    M21,
    MEDIAPIPE_33,
    MEDIAPIPE_LANDMARK_NAMES,
    SKELETON_MAPS,
    UnknownSkeletonError,
    apply_joint_map,
    detect_skeleton_map,
    joint_map_weights,
)
from storage.skeleton import JOINT_INDEX, JOINT_NAMES

ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")


@pytest.fixture(scope="module")
def bandai_path(motion_dir: Path) -> Path:
    return motion_dir / "bandai_namco_1" / "dataset-1_walk_normal_001.bvh"


@pytest.fixture(scope="module")
def m21_path(motion_dir: Path) -> Path:
    return motion_dir / "semi_mst_m21" / "content" / "walk.bvh"


def _index_rows(motion_dir: Path) -> list[dict[str, str]]:
    with open(motion_dir / "INDEX.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


# ------------------------------------------------------------------------------ parsing


def test_every_indexed_m21_file_parses_with_indexed_shape(motion_dir: Path) -> None:
    rows = [row for row in _index_rows(motion_dir) if row["dataset"] == "semi_mst_m21"]
    assert len(rows) == 18
    for row in rows:
        motion = read_bvh(motion_dir / row["path"])
        assert motion.num_frames == int(row["frames"])
        assert len(motion.joints) == int(row["joints"])
        assert motion.fps == pytest.approx(float(row["fps"]), rel=1e-3)


def test_bandai_hierarchy(bandai_path: Path) -> None:
    motion = read_bvh(bandai_path)
    assert motion.joint_names[:3] == ("joint_Root", "Hips", "Spine")
    assert len(motion.joints) == 22 and motion.num_frames == 195
    assert all(
        joint.channels[:3] == ("Xposition", "Yposition", "Zposition") for joint in motion.joints
    )
    assert all(
        joint.channels[3:] == ("Zrotation", "Xrotation", "Yrotation") for joint in motion.joints
    )
    leaves = {joint.name for joint in motion.joints if joint.end_site is not None}
    assert leaves == {"Head", "Hand_L", "Hand_R", "Toes_L", "Toes_R"}
    assert np.allclose(motion.joints[1].offset, [0.0, 93.9241, -3.0])
    assert motion.fps == pytest.approx(30.0, rel=1e-5)


def test_m21_hierarchy(m21_path: Path) -> None:
    motion = read_bvh(m21_path)
    root = motion.joints[0]
    assert root.name == "Hips" and root.parent == -1
    assert root.channels == ("Xposition", "Yposition", "Zposition") + (
        "Zrotation",
        "Yrotation",
        "Xrotation",
    )
    assert all(
        joint.channels == ("Zrotation", "Yrotation", "Xrotation") for joint in motion.joints[1:]
    )
    assert all(joint.parent < index for index, joint in enumerate(motion.joints))
    assert motion.channel_values.shape == (162, 6 + 3 * 20)


def test_format_then_parse_is_identity(bandai_path: Path, m21_path: Path, tmp_path: Path) -> None:
    for path in (bandai_path, m21_path):
        motion = read_bvh(path)
        out = tmp_path / path.name
        write_bvh(motion, out)
        again = read_bvh(out)
        assert again.joint_names == motion.joint_names and again.parents == motion.parents
        assert all(
            a.channels == b.channels for a, b in zip(again.joints, motion.joints, strict=True)
        )
        for a, b in zip(again.joints, motion.joints, strict=True):
            assert np.allclose(a.offset, b.offset, atol=1e-6)
            assert (a.end_site is None) == (b.end_site is None)
        assert np.allclose(again.channel_values, motion.channel_values, atol=1e-6)
        assert again.frame_time == pytest.approx(motion.frame_time, rel=1e-7)
        assert np.allclose(forward_kinematics(again), forward_kinematics(motion), atol=1e-4)


def test_whitespace_and_header_variants_parse_alike(m21_path: Path) -> None:
    text = m21_path.read_text()
    reference = parse_bvh(text, "walk.bvh")
    variants = [
        text.replace("\n", "\r\n"),
        text.replace("    ", "\t"),
        text.replace("Frames: ", "Frames:").replace("Frame Time: ", "Frame Time:"),
        text.replace("Frames: ", "Frames:\t\t").replace("Frame Time: ", "Frame Time:   "),
        text.replace("MOTION\n", "MOTION\n\n"),
    ]
    for variant in variants:
        motion = parse_bvh(variant, "variant.bvh")
        assert motion.joint_names == reference.joint_names
        assert np.array_equal(motion.channel_values, reference.channel_values)
        assert motion.frame_time == reference.frame_time


def test_bvh_motion_checks_shapes_and_order() -> None:
    root = BvhJoint("a", -1, np.zeros(3), ("Xrotation",))
    with pytest.raises(ValueError, match="channel_values"):
        BvhMotion((root,), 0.1, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="frame_time"):
        BvhMotion((root,), 0.0, np.zeros((2, 1)))
    # b's child c listed after a's second child d: not depth-first, so channels would misalign.
    joints = (
        root,
        BvhJoint("b", 0, np.ones(3), ()),
        BvhJoint("d", 0, np.ones(3), ()),
        BvhJoint("c", 1, np.ones(3), ()),
    )
    with pytest.raises(ValueError, match="depth-first"):
        BvhMotion(joints, 0.1, np.zeros((1, 1)))


# ------------------------------------------------------------------------------ errors


_FRAME_TIME = "Frame Time: 0.016667"  # as written in the m21 files
_ZERO_FRAMES = "Frames: 0\nFrame Time: 0.01\n"


def _break_first_value(text: str, replacement: str) -> str:
    header, _, data = text.partition("Frame Time:")
    time_line, _, values = data.partition("\n")
    first, _, rest = values.partition(" ")
    return f"{header}Frame Time:{time_line}\n{replacement} {rest}"


@pytest.mark.parametrize(
    ("name", "transform", "reason"),
    [
        ("cut-in-motion.bvh", lambda t: t[: len(t) // 2], "fewer values"),
        ("cut-in-hierarchy.bvh", lambda t: t[: t.index("MOTION") // 2], "MOTION"),
        ("no-motion.bvh", lambda t: t[: t.index("MOTION")], "no MOTION"),
        ("bad-number.bvh", lambda t: _break_first_value(t, "12.3x"), "not a number"),
        ("nan.bvh", lambda t: _break_first_value(t, "nan"), "NaN"),
        ("inf.bvh", lambda t: _break_first_value(t, "-inf"), "NaN or infinite"),
        ("zero-frames.bvh", lambda t: t[: t.index("Frames:")] + _ZERO_FRAMES, "zero frames"),
        ("bad-channel.bvh", lambda t: t.replace("Xrotation", "Wrotation", 1), "unknown channel"),
        ("zero-time.bvh", lambda t: t.replace(_FRAME_TIME, "Frame Time: 0"), "frame time"),
        ("negative-time.bvh", lambda t: t.replace(_FRAME_TIME, "Frame Time: -0.01"), "frame time"),
        ("extra-values.bvh", lambda t: t + "1 2 3\n", "more values"),
        ("bad-offset.bvh", lambda t: t.replace("OFFSET 0.000000", "OFFSET zero", 1), "OFFSET"),
        ("no-hierarchy.bvh", lambda t: t.replace("HIERARCHY", "HIERARCH", 1), "HIERARCHY"),
    ],
)  # fmt: skip
def test_malformed_files_raise_format_error_naming_file(
    m21_path: Path, tmp_path: Path, name: str, transform, reason: str
) -> None:
    path = _write(tmp_path, name, transform(m21_path.read_text()))
    with pytest.raises(BvhFormatError, match=reason) as caught:
        read_bvh(path)
    assert name in str(caught.value)


def test_bad_value_error_gives_line_number(m21_path: Path, tmp_path: Path) -> None:
    lines = m21_path.read_text().splitlines()
    data_line = lines.index("Frame Time: 0.016667") + 5  # 0-based index of the 5th frame
    lines[data_line] = lines[data_line].replace(" ", " oops ", 1)
    path = _write(tmp_path, "line.bvh", "\n".join(lines))
    with pytest.raises(BvhFormatError, match=f"line {data_line + 1}: not a number: 'oops'"):
        read_bvh(path)


def test_binary_file_raises_format_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.bvh"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(BvhFormatError, match="binary.bvh"):
        read_bvh(path)


def test_format_error_is_a_one_line_user_input_error() -> None:
    assert issubclass(BvhFormatError, UserInputError)
    assert issubclass(BvhFormatError, ValueError)


@pytest.mark.parametrize("value", ["100", "3000", "1e-300", "1e-6", "1e300", "nan", "0.0009"])
def test_implausible_frame_time_names_file_line_value_and_range(
    m21_path: Path, tmp_path: Path, value: str
) -> None:
    text = m21_path.read_text()
    line = text.splitlines().index(_FRAME_TIME) + 1
    path = _write(tmp_path, "ftime.bvh", text.replace(_FRAME_TIME, f"Frame Time: {value}"))
    expected = f"ftime.bvh: line {line}: implausible frame time '{value}': accepted 0.001 to 1 s"
    with pytest.raises(BvhFormatError, match=re.escape(expected)):
        read_bvh(path)


@pytest.mark.parametrize("value", ["0.001", "1", "1.0"])
def test_frame_time_bounds_are_accepted(m21_path: Path, value: str) -> None:
    text = m21_path.read_text().replace(_FRAME_TIME, f"Frame Time: {value}")
    assert parse_bvh(text, "edge.bvh").frame_time == float(value)


def test_declared_values_over_budget_are_refused_before_reading(m21_path: Path) -> None:
    text = m21_path.read_text().replace("Frames: 162", "Frames: 999999999")
    with pytest.raises(BvhFormatError, match="999999999 frames x 66 channels = 65,999,999,934"):
        parse_bvh(text, "many.bvh")


def test_values_budget_edge(m21_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = m21_path.read_text()
    line = text.splitlines().index("Frames: 162") + 1
    monkeypatch.setattr(storage.bvh, "MAX_FRAME_VALUES", 162 * 66)
    assert parse_bvh(text, "edge.bvh").channel_values.shape == (162, 66)
    monkeypatch.setattr(storage.bvh, "MAX_FRAME_VALUES", 162 * 66 - 1)
    with pytest.raises(BvhFormatError, match=f"edge.bvh: line {line}: 162 frames x 66 channels"):
        parse_bvh(text, "edge.bvh")


def test_file_size_budget(m21_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    size = m21_path.stat().st_size
    monkeypatch.setattr(storage.bvh, "MAX_FILE_BYTES", size)
    assert read_bvh(m21_path).num_frames == 162
    monkeypatch.setattr(storage.bvh, "MAX_FILE_BYTES", size - 1)
    with pytest.raises(BvhFormatError, match=f"walk.bvh: {size:,} bytes, over the budget"):
        read_bvh(m21_path)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("Frames: 162", "Frames: " + "9" * 5000, "bad frame count"),  # int() refuses 4300+ digits
        ("Frames: 162", "Frames: \u0662", "bad frame count"),  # a digit to isdigit(), not int()
        ("CHANNELS 6", "CHANNELS \u00b2", "channel count"),
        ("Frame Time: 0.016667", "Frame Time: " + "x" * 10**6, "bad frame time"),
        ("ROOT Hips", "ROOT Hips " + "H" * 10**6, "expected '{'"),
        ("Frames: 162", "F" * 10**6, "expected 'Frames:'"),
    ],
)  # fmt: skip
def test_odd_tokens_give_short_format_errors(
    m21_path: Path, old: str, new: str, reason: str
) -> None:
    with pytest.raises(BvhFormatError, match=re.escape(reason)) as caught:
        parse_bvh(m21_path.read_text().replace(old, new, 1), "odd.bvh")
    assert len(str(caught.value)) < 300


# ------------------------------------------------------------------------------ FK


def _tiny_bvh(root_channels: str, values: str) -> BvhMotion:
    text = f"""HIERARCHY
ROOT root
{{
  OFFSET 5 5 5
  CHANNELS {root_channels}
  JOINT child
  {{
    OFFSET 1 0 0
    CHANNELS 0
    End Site
    {{
      OFFSET 0 1 0
    }}
  }}
}}
MOTION
Frames: 1
Frame Time: 0.1
{values}
"""
    return parse_bvh(text, "tiny.bvh")


@pytest.mark.parametrize(
    ("channel", "angle", "expected"),
    [
        ("Zrotation", 90.0, [0.0, 1.0, 0.0]),  # x -> y about +z
        ("Yrotation", 90.0, [0.0, 0.0, -1.0]),  # x -> -z about +y (right-handed)
        ("Xrotation", 90.0, [1.0, 0.0, 0.0]),  # x stays on the x axis
    ],
)
def test_fk_rotations_are_right_handed(channel: str, angle: float, expected: list[float]) -> None:
    motion = _tiny_bvh(f"1 {channel}", str(angle))
    positions = forward_kinematics(motion)
    assert np.allclose(positions[0, 0], [5.0, 5.0, 5.0])  # no position channels: the OFFSET
    assert np.allclose(positions[0, 1] - positions[0, 0], expected, atol=1e-12)


def test_fk_channel_order_is_intrinsic_product() -> None:
    angles = np.array([30.0, -50.0, 70.0])  # Z, X, Y
    motion = _tiny_bvh(
        "6 Xposition Yposition Zposition Zrotation Xrotation Yrotation", "1 2 3 30 -50 70"
    )
    positions = forward_kinematics(motion)
    rotation = euler_to_matrix(angles[None], "ZXY")[0]
    z, x, y = np.radians(angles)
    rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    assert np.allclose(rotation, rz @ rx @ ry)
    assert np.allclose(positions[0, 0], [1.0, 2.0, 3.0])  # position channels replace the OFFSET
    assert np.allclose(positions[0, 1], [1.0, 2.0, 3.0] + rotation @ [1.0, 0.0, 0.0])


def test_partial_position_channels_read_missing_components_as_zero() -> None:
    positions = forward_kinematics(_tiny_bvh("1 Yposition", "7"))
    assert np.allclose(positions[0, 0], [0.0, 7.0, 0.0])


def test_fk_keeps_m21_bone_lengths(m21_path: Path) -> None:
    motion = read_bvh(m21_path)
    positions = forward_kinematics(motion)  # (F, J, 3)
    for index, joint in enumerate(motion.joints[1:], start=1):
        lengths = np.linalg.norm(positions[:, index] - positions[:, joint.parent], axis=-1)
        assert np.allclose(lengths, np.linalg.norm(joint.offset), atol=1e-9)


def test_fk_bandai_uses_translation_channels(bandai_path: Path) -> None:
    motion = read_bvh(bandai_path)
    positions = forward_kinematics(motion)
    hips = motion.joint_names.index("Hips")
    assert np.allclose(positions[:, hips], motion.channel_values[:, 6:9])  # root is at 0
    assert 85.0 < np.median(positions[:, hips, 1]) < 100.0  # centimetres, y up


# ------------------------------------------------------------------------------ Euler


@pytest.mark.parametrize("order", ORDERS)
def test_euler_round_trip_on_random_rotations(order: str) -> None:
    rng = np.random.default_rng(7)
    quaternions = rng.normal(size=(2000, 4))
    quaternions /= np.linalg.norm(quaternions, axis=1, keepdims=True)
    w, x, y, z = quaternions.T
    matrices = np.stack(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    ).transpose(2, 0, 1)
    angles = matrix_to_euler(matrices, order)
    assert np.allclose(euler_to_matrix(angles, order), matrices, atol=1e-9)
    assert np.all(np.abs(angles[:, 1]) <= 90.0 + 1e-9)


@pytest.mark.parametrize("order", ORDERS)
def test_euler_round_trip_at_gimbal_lock(order: str) -> None:
    rng = np.random.default_rng(3)
    angles = rng.uniform(-180.0, 180.0, size=(200, 3))
    angles[:100, 1], angles[100:, 1] = 90.0, -90.0
    matrices = euler_to_matrix(angles, order)
    recovered = matrix_to_euler(matrices, order)
    assert np.all(np.isfinite(recovered))
    assert np.allclose(euler_to_matrix(recovered, order), matrices, atol=1e-9)


@pytest.mark.parametrize("order", ORDERS)
def test_matrix_to_euler_returns_angles_in_principal_range(order: str) -> None:
    rng = np.random.default_rng(11)
    angles = np.column_stack(
        [rng.uniform(-179, 179, 500), rng.uniform(-89, 89, 500), rng.uniform(-179, 179, 500)]
    )
    assert np.allclose(matrix_to_euler(euler_to_matrix(angles, order), order), angles, atol=1e-9)


def test_euler_rejects_bad_order() -> None:
    with pytest.raises(ValueError, match="permutation"):
        euler_to_matrix(np.zeros((1, 3)), "XXY")


# ------------------------------------------------------------------------------ joint maps


def test_every_map_is_complete_with_unit_weights() -> None:
    for skeleton_map in SKELETON_MAPS:
        assert set(skeleton_map.joint_sources) == set(JOINT_NAMES)
        weights = joint_map_weights(skeleton_map.source_names, skeleton_map)
        assert np.allclose(weights.sum(axis=1), 1.0)


def test_detects_real_skeletons(bandai_path: Path, m21_path: Path) -> None:
    assert detect_skeleton_map(read_bvh(bandai_path).joint_names) is BANDAI_22
    assert detect_skeleton_map(read_bvh(m21_path).joint_names) is M21
    assert detect_skeleton_map(JOINT_NAMES) is CANONICAL
    assert detect_skeleton_map(MEDIAPIPE_LANDMARK_NAMES) is MEDIAPIPE_33


def test_cmu_31_wins_over_m21_on_a_cmu_name_list() -> None:
    names = CMU_31.family_joints
    assert len(names) == 31 and set(M21.source_names) <= set(names)
    assert detect_skeleton_map(names) is CMU_31


def test_namespace_prefixes_are_stripped(m21_path: Path) -> None:
    names = ["mixamorig:" + name for name in read_bvh(m21_path).joint_names]
    assert detect_skeleton_map(names) is M21
    positions = np.random.default_rng(0).normal(size=(4, len(names), 3))
    mapped = apply_joint_map(names, positions, M21)
    assert np.allclose(mapped[:, JOINT_INDEX["neck"]], positions[:, names.index("mixamorig:Neck1")])


def test_unknown_skeleton_lists_joints_and_families() -> None:
    with pytest.raises(UnknownSkeletonError) as caught:
        detect_skeleton_map(["Root", "Pelvis", "Thigh_L"])
    message = str(caught.value)
    assert "Thigh_L" in message
    assert all(skeleton_map.name in message for skeleton_map in SKELETON_MAPS)


def test_apply_map_needs_every_source() -> None:
    with pytest.raises(UnknownSkeletonError, match="Toes_R"):
        apply_joint_map(["Hips"], np.zeros((1, 1, 3)), BANDAI_22)


def test_mediapipe_landmarks_and_derived_joints() -> None:
    names = MEDIAPIPE_LANDMARK_NAMES
    assert len(names) == 33 and names[0] == "nose"
    expected = {11: "left_shoulder", 12: "right_shoulder", 15: "left_wrist", 16: "right_wrist"}
    expected |= {23: "left_hip", 24: "right_hip", 29: "left_heel", 32: "right_foot_index"}
    assert all(names[index] == name for index, name in expected.items())
    landmarks = np.random.default_rng(1).normal(size=(5, 33, 3))
    canonical = apply_joint_map(names, landmarks, MEDIAPIPE_33)  # (5, 19, 3)
    pelvis = landmarks[:, [23, 24]].mean(axis=1)
    neck = landmarks[:, [11, 12]].mean(axis=1)
    assert np.allclose(canonical[:, JOINT_INDEX["pelvis"]], pelvis)
    assert np.allclose(canonical[:, JOINT_INDEX["neck"]], neck)
    assert np.allclose(canonical[:, JOINT_INDEX["spine"]], pelvis + (neck - pelvis) / 3)
    assert np.allclose(canonical[:, JOINT_INDEX["chest"]], pelvis + 2 * (neck - pelvis) / 3)
    assert np.allclose(canonical[:, JOINT_INDEX["head"]], landmarks[:, [7, 8]].mean(axis=1))
    assert np.allclose(canonical[:, JOINT_INDEX["left_toe"]], landmarks[:, 31])
    assert np.allclose(canonical[:, JOINT_INDEX["right_knee"]], landmarks[:, 26])


def test_format_bvh_writes_numbers_readably(m21_path: Path) -> None:
    text = format_bvh(read_bvh(m21_path))
    assert text.startswith("HIERARCHY\nROOT Hips\n{\n\tOFFSET ")
    assert "\nMOTION\nFrames: 162\nFrame Time: 0.01666700\n" in text
