"""Any BVH rig through `extract.mocap.bvh_import` and `ingest-mocap`: a real Bandai Namco file with
joints renamed to other conventions (and zero-length joints inserted where those rigs have more)
must import to the very positions of the original; a rig no convention fits needs a joint map."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from extract.mocap.bvh_import import MocapImportError, import_bvh
from extract.mocap.ingest import MocapIngestConfig, MocapIngester
from flows.cli import main
from storage.bvh import BvhJoint, BvhMotion, read_bvh, write_bvh
from storage.errors import UserInputError
from storage.joint_maps import detect_skeleton_map
from storage.shard_reader import ShardReader
from storage.skeleton import JOINT_NAMES

SIDES = {"L": ("Left", "left", "l", "L"), "R": ("Right", "right", "r", "R")}
# Bandai joint (side suffix dropped) -> name in each convention; "{S}" is the side word.
LIMBS = ("Shoulder", "UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot", "Toes")
RIGS: dict[str, tuple[dict[str, str], tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    # (trunk names, limb names in LIMBS order, inserted joints as (above, name))
    "mixamo": (
        {"joint_Root": "Reference", "Hips": "Hips", "Spine": "Spine", "Chest": "Spine2"},
        ("{S}Shoulder", "{S}Arm", "{S}ForeArm", "{S}Hand", "{S}UpLeg", "{S}Leg", "{S}Foot")
        + ("{S}ToeBase",),
        (("Chest", "Spine1"),),
    ),
    "vicon": (
        {"joint_Root": "Reference", "Spine": "Ab"},
        ("{S}Collar", "{S}Shoulder", "{S}Elbow", "{S}Wrist", "{S}Hip", "{S}Knee", "{S}Ankle")
        + ("{S}Toe",),
        (),
    ),
    "rigify": (
        {"joint_Root": "root", "Hips": "DEF-spine", "Spine": "DEF-spine.001"}
        | {"Chest": "DEF-spine.003", "Neck": "DEF-spine.004", "Head": "DEF-spine.006"},
        ("DEF-shoulder.{s}", "DEF-upper_arm.{s}", "DEF-forearm.{s}", "DEF-hand.{s}")
        + ("DEF-thigh.{s}", "DEF-shin.{s}", "DEF-foot.{s}", "DEF-toe.{s}"),
        (("Chest", "DEF-spine.002"), ("Head", "DEF-spine.005"))
        + (("LowerArm_L", "DEF-upper_arm.L.001"), ("Hand_L", "DEF-forearm.L.001")),
    ),
    "smpl": (
        {"joint_Root": "root", "Hips": "pelvis", "Spine": "spine1", "Chest": "spine3"}
        | {"Neck": "neck", "Head": "head"},
        ("{l}_collar", "{l}_shoulder", "{l}_elbow", "{l}_wrist", "{l}_hip", "{l}_knee")
        + ("{l}_ankle", "{l}_foot"),
        (("Chest", "spine2"),),
    ),
    "smpl-capitals": (
        {"joint_Root": "Root", "Hips": "Pelvis", "Spine": "Spine1", "Chest": "Spine3"},
        ("{s}_Collar", "{s}_Shoulder", "{s}_Elbow", "{s}_Wrist", "{s}_Hip", "{s}_Knee")
        + ("{s}_Ankle", "{s}_Foot"),
        (("Chest", "Spine2"),),
    ),
    "cmu-asf": (
        {"joint_Root": "Reference", "Hips": "root", "Spine": "lowerback", "Chest": "thorax"}
        | {"Neck": "lowerneck", "Head": "head"},
        ("{c}clavicle", "{c}humerus", "{c}radius", "{c}wrist", "{c}femur", "{c}tibia")
        + ("{c}foot", "{c}toes"),
        (("UpperLeg_L", "lhipjoint"), ("UpperLeg_R", "rhipjoint"), ("Chest", "upperback")),
    ),
}


def rig_names(rig: str, prefix: str = "") -> dict[str, str]:
    """Bandai joint name -> the rig's name for it."""
    trunk, limbs, _ = RIGS[rig]
    names = {name: prefix + trunk.get(name, name) for name in ("joint_Root", "Hips", "Spine")}
    names |= {name: prefix + trunk.get(name, name) for name in ("Chest", "Neck", "Head")}
    for suffix, (side, lower, letter, capital) in SIDES.items():
        words = {"S": side, "l": lower, "c": letter, "s": capital}
        for bandai, pattern in zip(LIMBS, limbs, strict=True):
            names[f"{bandai}_{suffix}"] = prefix + pattern.format_map(words)
    return names


def insert_joint(motion: BvhMotion, above: str, name: str) -> BvhMotion:
    """A zero-offset joint without channels between `above` and its parent: nothing moves."""
    index = motion.joint_names.index(above)
    joints: list[BvhJoint] = []
    for position, joint in enumerate(motion.joints):
        parent = joint.parent if joint.parent < index else joint.parent + 1
        if position == index:
            joints.append(BvhJoint(name, joint.parent, np.zeros(3), ()))
            parent = index
        joints.append(replace(joint, parent=parent))
    return BvhMotion(tuple(joints), motion.frame_time, motion.channel_values)


def renamed(motion: BvhMotion, names: dict[str, str], inserts=()) -> BvhMotion:
    for above, name in inserts:
        motion = insert_joint(motion, above, name)
    joints = tuple(
        replace(joint, name=names.get(joint.name, joint.name)) for joint in motion.joints
    )
    return BvhMotion(joints, motion.frame_time, motion.channel_values)


@pytest.fixture(scope="module")
def bandai_file(bandai_dir: Path) -> Path:
    return bandai_dir / "dataset-1_walk_normal_001.bvh"


@pytest.fixture(scope="module")
def bandai_motion(bandai_file: Path) -> BvhMotion:
    return read_bvh(bandai_file)


@pytest.fixture(scope="module")
def original_positions(bandai_file: Path) -> np.ndarray:
    return _import(bandai_file).positions


def _import(path: Path, **kwargs):
    return import_bvh(path, dataset="test", source_key=path.name, **kwargs)


def _write(motion: BvhMotion, path: Path) -> Path:
    write_bvh(motion, path)
    return path


@pytest.mark.parametrize("rig", sorted(RIGS))
def test_renamed_rig_imports_like_the_original(
    rig: str, bandai_motion: BvhMotion, original_positions: np.ndarray, tmp_path: Path
) -> None:
    prefix = "mixamorig:" if rig == "mixamo" else ""
    motion = renamed(bandai_motion, rig_names(rig, prefix), RIGS[rig][2])
    assert not [name for name in motion.joint_names if name.endswith(("_L", "_R"))]
    assert detect_skeleton_map(motion.joint_names, motion.parents).inferred  # no family claims it
    clip = _import(_write(motion, tmp_path / f"{rig}.bvh"))
    assert clip.positions.shape == original_positions.shape
    assert np.allclose(clip.positions, original_positions, atol=1e-5)


def test_rig_with_left_and_right_swapped_names_is_refused(
    bandai_motion: BvhMotion, tmp_path: Path
) -> None:
    names = rig_names("mixamo", "mixamorig:")
    swapped = {
        name: other.replace("Left", "@").replace("Right", "Left").replace("@", "Right")
        for name, other in names.items()
    }
    path = _write(renamed(bandai_motion, swapped, RIGS["mixamo"][2]), tmp_path / "swapped.bvh")
    with pytest.raises(MocapImportError) as caught:
        _import(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path))
    assert "left_hip (LeftUpLeg) lies on the subject's right of right_hip (RightUpLeg)" in message
    assert "swapped" in message and "--joint-map FILE" in message


@pytest.fixture()
def numbered_rig(bandai_motion: BvhMotion, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The Bandai file with joints j0..j21, and the joint map that undoes it."""
    numbered = {name: f"j{i}" for i, name in enumerate(bandai_motion.joint_names)}
    folder = tmp_path / "numbered"
    folder.mkdir()
    path = _write(renamed(bandai_motion, numbered), folder / "walk.bvh")
    bandai = rig_names("vicon")  # any table: only its keys, the Bandai names, are used
    canonical = {
        "pelvis": "Hips", "spine": "Spine", "chest": "Chest", "neck": "Neck", "head": "Head",
        **{f"{side}_{joint}": f"{bandai_name}_{side[0].upper()}"
           for side in ("left", "right")
           for joint, bandai_name in zip(
               ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "toe"),
               ("UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot", "Toes"),
               strict=True)},
    }  # fmt: skip
    assert set(canonical.values()) <= set(bandai)
    return path, {joint: numbered[source] for joint, source in canonical.items()}


def test_unmatched_rig_is_one_line_naming_the_missing_joints(
    numbered_rig: tuple[Path, dict[str, str]],
) -> None:
    path, _ = numbered_rig
    with pytest.raises(MocapImportError) as caught:
        _import(path)
    message = str(caught.value)
    assert isinstance(caught.value, UserInputError) and "\n" not in message
    assert message.startswith(f"{path}: unknown hierarchy: ")
    assert "conventions find no pelvis, spine, chest, neck, head, left_shoulder" in message
    assert "joints left unused: j0, j1, j2" in message and "--joint-map FILE" in message


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_joint_map_file_imports_the_unmatched_rig(
    numbered_rig: tuple[Path, dict[str, str]],
    original_positions: np.ndarray,
    tmp_path: Path,
    suffix: str,
) -> None:
    path, pairs = numbered_rig
    map_file = tmp_path / f"map{suffix}"
    if suffix == ".json":
        map_file.write_text(json.dumps(pairs))
    else:
        map_file.write_text("".join(f"{joint}: {source}\n" for joint, source in pairs.items()))
    clip = _import(path, joint_map=map_file)
    assert np.allclose(clip.positions, original_positions, atol=1e-5)


def test_bad_joint_maps_are_one_line(
    numbered_rig: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, pairs = numbered_rig
    cases = {
        "typo.yaml": ({k: v for k, v in pairs.items() if k != "neck"} | {"nek": "j4"}, "nek"),
        "absent.yaml": (pairs | {"head": "Kopf"}, "source joints not in the file: 'Kopf'"),
    }
    for name, (content, expected) in cases.items():
        (tmp_path / name).write_text("".join(f"{k}: {v}\n" for k, v in content.items()))
        with pytest.raises(MocapImportError, match=expected) as caught:
            _import(path, joint_map=tmp_path / name)
        assert "\n" not in str(caught.value) and name in str(caught.value)
    (tmp_path / "broken.yaml").write_text("pelvis: [j1\n")
    with pytest.raises(MocapImportError, match="broken.yaml: not valid YAML/JSON"):
        _import(path, joint_map=tmp_path / "broken.yaml")
    with pytest.raises(MocapImportError, match="cannot read the joint map"):
        _import(path, joint_map=tmp_path / "missing.yaml")


def test_joint_map_is_part_of_the_shard_identity(
    numbered_rig: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, pairs = numbered_rig
    map_file = tmp_path / "map.yaml"
    map_file.write_text(json.dumps(pairs))
    config = MocapIngestConfig(src_dir=str(path.parent), out_root=str(tmp_path / "out"))
    assert "joint_map" not in MocapIngester(config).settings()  # older shard ids unchanged
    with_map = replace(config, joint_map=str(map_file))
    first = MocapIngester(with_map).settings()["joint_map"]
    map_file.write_text(json.dumps(pairs | {"head": pairs["neck"]}))
    assert MocapIngester(with_map).settings()["joint_map"] != first


def test_cli_ingest_with_joint_map(
    numbered_rig: tuple[Path, dict[str, str]],
    original_positions: np.ndarray,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    path, pairs = numbered_rig
    root = tmp_path / "root"
    assert main(["ingest-mocap", str(path.parent), "--out", str(root), "--strict"]) == 1
    assert "unknown hierarchy" in capsys.readouterr().out
    map_file = tmp_path / "rig.yaml"
    map_file.write_text("".join(f"{joint}: {source}\n" for joint, source in pairs.items()))
    argv = ["ingest-mocap", str(path.parent), "--out", str(root), "--joint-map", str(map_file)]
    assert main([*argv, "--strict"]) == 0
    assert "1 clips" in capsys.readouterr().out
    (clip,) = ShardReader(str(root)).iter_clips()
    assert np.allclose(clip.positions, original_positions, atol=1e-5)
    assert ShardReader(str(root)).failures() == []  # the failed run's shard was superseded
    map_file.write_text("pelvis: j1\n")
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "missing canonical joints: spine, chest" in error
    assert all(joint in error for joint in JOINT_NAMES)
