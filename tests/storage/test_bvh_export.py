"""Tests of `storage.bvh_export`: real clips -> BVH -> `import_bvh` gives the clips back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from extract.mocap.bvh_import import import_bvh
from storage.bvh import format_bvh, forward_kinematics, parse_bvh, read_bvh, write_bvh
from storage.bvh_export import ATTACHED_JOINTS, clip_to_bvh, rest_offsets, write_clip_bvh
from storage.joint_maps import CANONICAL, detect_skeleton_map
from storage.skeleton import JOINT_NAMES, PARENTS, REST_OFFSETS, bone_lengths

ROUND_TRIP_FILES = [
    "bandai_namco_1/dataset-1_walk_normal_001.bvh",
    "bandai_namco_1/dataset-1_byebye_happy_001.bvh",
    "semi_mst_m21/content/walk.bvh",
    "semi_mst_m21/style/STRUTTING-1.bvh",
    "semi_mst_m21/style/HAPPY.bvh",  # its shoulders move the most on the chest
]


def _import(path: Path):
    return import_bvh(path, dataset="test", source_key=path.name)


def _errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a.astype(np.float64) - b.astype(np.float64), axis=-1)


@pytest.mark.parametrize("relative", ROUND_TRIP_FILES)
def test_export_then_import_gives_the_clip_back(
    motion_dir: Path, tmp_path: Path, relative: str
) -> None:
    clip = _import(motion_dir / relative)
    out = tmp_path / "exported.bvh"
    write_clip_bvh(clip, out)
    again = _import(out)
    assert again.num_frames == clip.num_frames and again.fps == clip.fps
    errors = _errors(again.positions, clip.positions)  # (T, J) metres
    print(f"{relative}: mean {errors.mean() * 100:.3f} cm, max {errors.max() * 100:.3f} cm")
    assert errors.mean() < 1e-4 and errors.max() < 1e-3  # 0.1 mm / 1 mm


def test_every_sample_file_round_trips_within_a_centimetre(
    motion_dir: Path, tmp_path: Path
) -> None:
    worst = {}
    for path in sorted(motion_dir.glob("*/*.bvh")) + sorted(motion_dir.glob("*/*/*.bvh")):
        clip = _import(path)
        write_clip_bvh(clip, tmp_path / "x.bvh")
        worst[path.name] = float(
            _errors(_import(tmp_path / "x.bvh").positions, clip.positions).mean()
        )
    assert len(worst) >= 192 and max(worst.values()) < 0.01, max(
        worst.items(), key=lambda kv: kv[1]
    )


def test_rotation_only_export_stays_within_a_centimetre(motion_dir: Path, tmp_path: Path) -> None:
    clip = _import(motion_dir / "bandai_namco_1/dataset-1_walk_normal_001.bvh")
    motion = clip_to_bvh(clip.positions, clip.fps, attached_translations=False)
    assert all(len(joint.channels) == 3 for joint in motion.joints[1:])
    write_bvh(motion, tmp_path / "rotations.bvh")
    errors = _errors(_import(tmp_path / "rotations.bvh").positions, clip.positions)
    assert errors.mean() < 0.01


def test_rigid_canonical_skeleton_round_trips_exactly(motion_dir: Path, tmp_path: Path) -> None:
    clip = _import(motion_dir / "semi_mst_m21/style/HAPPY.bvh")  # shoulders move the most
    first, second = tmp_path / "first.bvh", tmp_path / "second.bvh"
    write_clip_bvh(clip, first)
    rigid = _import(first)  # an exported clip has a rigid canonical skeleton
    write_clip_bvh(rigid, second)
    assert _errors(_import(second).positions, rigid.positions).max() < 1e-5


def test_exported_fk_matches_positions_before_reimport(motion_dir: Path) -> None:
    clip = _import(motion_dir / "bandai_namco_1/dataset-1_walk_normal_001.bvh")
    motion = clip_to_bvh(clip.positions, clip.fps, units_scale=100.0)
    reconstructed = forward_kinematics(motion) / 100.0  # (T, J, 3) metres
    errors = _errors(reconstructed, clip.positions)
    assert errors.mean() < 0.005
    legs = [JOINT_NAMES.index(n) for n in JOINT_NAMES if n.endswith(("hip", "knee", "ankle"))]
    assert errors[:, legs].max() < 1e-4  # pelvis and legs are rigid in the source: exact


def test_exported_text_parses_on_the_canonical_hierarchy(motion_dir: Path) -> None:
    clip = _import(motion_dir / "semi_mst_m21/content/walk.bvh")
    motion = parse_bvh(format_bvh(clip_to_bvh(clip.positions, clip.fps)), "exported.bvh")
    assert motion.joint_names == JOINT_NAMES
    assert motion.parents == PARENTS
    assert all(joint.parent < index for index, joint in enumerate(motion.joints))
    assert detect_skeleton_map(motion.joint_names) is CANONICAL
    assert motion.joints[0].channels == ("Xposition", "Yposition", "Zposition") + (
        "Zrotation",
        "Xrotation",
        "Yrotation",
    )
    for index, joint in enumerate(motion.joints[1:], start=1):
        positions = ("Xposition", "Yposition", "Zposition") if index in ATTACHED_JOINTS else ()
        assert joint.channels == positions + ("Zrotation", "Xrotation", "Yrotation")
    leaves = {index for index in range(len(JOINT_NAMES)) if index not in PARENTS}
    assert {i for i, j in enumerate(motion.joints) if j.end_site is not None} == leaves
    assert np.allclose(motion.joints[0].offset, 0.0)
    assert motion.num_frames == clip.num_frames
    assert motion.fps == pytest.approx(30.0)


def test_written_file_is_readable(motion_dir: Path, tmp_path: Path) -> None:
    clip = _import(motion_dir / "bandai_namco_1/dataset-1_bow_normal_001.bvh")
    path = tmp_path / "bow.bvh"
    write_clip_bvh(clip, path)
    motion = read_bvh(path)
    assert motion.num_frames == clip.num_frames
    pelvis_height_cm = np.median(motion.channel_values[:, 1])
    assert 80.0 < pelvis_height_cm < 110.0  # centimetres by default


def test_rest_pose_uses_canonical_directions_and_clip_lengths(motion_dir: Path) -> None:
    positions = _import(motion_dir / "semi_mst_m21/content/walk.bvh").positions.astype(float)
    offsets = rest_offsets(positions)
    lengths = np.median(bone_lengths(positions), axis=0)  # (J-1,) in BONES order
    assert np.allclose(np.linalg.norm(offsets[1:], axis=1), lengths, atol=2e-3)
    for name in ("left_elbow", "right_knee", "head", "left_toe"):
        joint = JOINT_NAMES.index(name)
        direction = REST_OFFSETS[joint] / np.linalg.norm(REST_OFFSETS[joint])
        assert np.allclose(offsets[joint] / np.linalg.norm(offsets[joint]), direction, atol=1e-6)
    spine, left_hip = JOINT_NAMES.index("spine"), JOINT_NAMES.index("left_hip")
    assert offsets[spine][0] == pytest.approx(0.0, abs=1e-9) and offsets[spine][1] > 0
    assert offsets[left_hip][0] > 0 and offsets[left_hip][1] < 0  # left of and below the pelvis


def test_clip_to_bvh_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="positions must be"):
        clip_to_bvh(np.zeros((4, 5, 3)), 30.0)
    bad = np.zeros((2, len(JOINT_NAMES), 3))
    bad[1, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clip_to_bvh(bad, 30.0)
