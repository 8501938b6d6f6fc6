"""Tests of `extract.mocap.bvh_import` on the real Bandai Namco and semi_mst m21 files."""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path

import numpy as np
import pytest

import extract.mocap.bvh_import
from extract.mocap.bvh_import import (
    EXTRACTOR,
    EXTRACTOR_VERSION,
    MAX_CLIP_FRAMES,
    MocapImportError,
    choose_unit_scale,
    import_bvh,
    resample_positions,
)
from storage.bvh import BvhJoint, BvhMotion, euler_to_matrix, matrix_to_euler, read_bvh, write_bvh
from storage.canonical import facing_directions, floor_height, initial_yaw
from storage.errors import UserInputError
from storage.joint_maps import CMU_31, detect_skeleton_map
from storage.records import Split, make_clip_id
from storage.skeleton import JOINT_INDEX, NUM_JOINTS

BANDAI_FILES = 174
BANDAI_FRAMES = 31_914


@pytest.fixture(scope="module")
def bandai_walk(motion_dir: Path) -> Path:
    return motion_dir / "bandai_namco_1" / "dataset-1_walk_normal_001.bvh"


@pytest.fixture(scope="module")
def m21_walk(motion_dir: Path) -> Path:
    return motion_dir / "semi_mst_m21" / "content" / "walk.bvh"


def _import(path: Path, **kwargs) -> object:
    return import_bvh(path, dataset="test", source_key=path.name, **kwargs)


# ------------------------------------------------------------------------------ whole sets


def test_all_bandai_files_import_at_30_fps(motion_dir: Path) -> None:
    with open(motion_dir / "INDEX.csv", newline="") as handle:
        indexed = {row["path"]: int(row["frames"]) for row in csv.DictReader(handle)}
    paths = sorted((motion_dir / "bandai_namco_1").glob("*.bvh"))
    assert len(paths) == BANDAI_FILES
    start = time.perf_counter()
    clips = [_import(path) for path in paths]
    elapsed = time.perf_counter() - start
    print(f"imported {len(paths)} Bandai files in {elapsed:.2f} s")
    assert sum(clip.num_frames for clip in clips) == BANDAI_FRAMES
    for path, clip in zip(paths, clips, strict=True):
        assert clip.num_frames == indexed[f"bandai_namco_1/{path.name}"]
        assert clip.fps == 30.0
        assert 0.75 < np.median(clip.positions[:, JOINT_INDEX["pelvis"], 1]) < 1.0  # giant: 0.79
    assert elapsed < 60.0


@pytest.mark.parametrize("folder", ["style", "content"])
def test_m21_folders_give_human_pelvis_height(motion_dir: Path, folder: str) -> None:
    paths = sorted((motion_dir / "semi_mst_m21" / folder).glob("*.bvh"))
    assert paths
    for path in paths:
        clip = _import(path)
        pelvis_height = float(np.median(clip.positions[:, JOINT_INDEX["pelvis"], 1]))
        assert 0.8 <= pelvis_height <= 1.2, f"{path.name}: pelvis height {pelvis_height:.3f} m"
        assert clip.num_frames == (read_bvh(path).num_frames + 1) // 2  # 60 -> 30 fps


# ------------------------------------------------------------------------------ the contract


def test_clip_fields(bandai_walk: Path) -> None:
    clip = import_bvh(
        bandai_walk,
        dataset="bandai_namco_1",
        source_key="dataset-1_walk_normal_001",
        style="normal",
        content="walk",
        take="001",
        licence="CC BY-NC 4.0",
        split=Split.VAL,
    )
    assert clip.clip_id == make_clip_id("mocap", "bandai_namco_1", "dataset-1_walk_normal_001")
    assert clip.extractor == EXTRACTOR == "stylemotion.bvh_import"
    assert clip.extractor_version == EXTRACTOR_VERSION
    assert clip.positions.shape == (195, NUM_JOINTS, 3) and clip.positions.dtype == np.float32
    assert np.array_equal(clip.confidence, np.ones((195, NUM_JOINTS), dtype=np.float32))
    assert (clip.style, clip.content, clip.take, clip.split) == ("normal", "walk", "001", Split.VAL)
    assert clip.source_uri == str(bandai_walk) and clip.licence == "CC BY-NC 4.0"


@pytest.mark.parametrize("name", ["bandai_walk", "m21_walk"])
def test_starts_facing_plus_z_on_the_floor(name: str, request: pytest.FixtureRequest) -> None:
    clip = _import(request.getfixturevalue(name))
    positions = clip.positions
    assert abs(initial_yaw(positions)) < 1e-5  # the start heading (first 0.5 s) is +z
    assert np.allclose(facing_directions(positions[:1])[0], [0.0, 1.0], atol=0.1)
    assert np.allclose(positions[0, JOINT_INDEX["pelvis"], [0, 2]], 0.0, atol=1e-5)
    assert abs(floor_height(positions)) < 1e-4
    feet = positions[:, [JOINT_INDEX["left_toe"], JOINT_INDEX["right_toe"]], 1]
    assert feet.min() > -0.05  # nothing sinks far below the floor
    assert np.allclose(clip.root_trajectory[0, :2], 0.0, atol=1e-5)
    assert abs(clip.root_trajectory[0, 2]) < 0.1  # frame 0's own yaw is close to the start heading
    toes_ahead = (
        positions[:, JOINT_INDEX["left_toe"], 2] - positions[:, JOINT_INDEX["left_ankle"], 2]
    )
    assert np.median(toes_ahead) > 0.03  # feet point forward: left/right and facing agree
    pelvis = positions[:, JOINT_INDEX["pelvis"]]
    assert pelvis[-1, 2] - pelvis[0, 2] > 1.0  # a forward walk moves along +z


def test_left_is_plus_x(bandai_walk: Path) -> None:
    positions = _import(bandai_walk).positions
    across = positions[0, JOINT_INDEX["left_hip"], 0] - positions[0, JOINT_INDEX["right_hip"], 0]
    assert across > 0.1


# ------------------------------------------------------------------------------ units, up, fps


def test_unit_choice() -> None:
    assert choose_unit_scale(0.9) == 1.0
    assert choose_unit_scale(85.0) == 0.01
    assert choose_unit_scale(850.0) == 0.001
    assert choose_unit_scale(33.0) == 0.0254  # 33 inches: 0.84 m; as cm it would be 0.33 m
    assert choose_unit_scale(14.8) is None  # the m21 style/ folder


def test_style_folder_scale_warns_and_explicit_scale_wins(
    motion_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = motion_dir / "semi_mst_m21" / "style" / "HAPPY.bvh"
    with caplog.at_level(logging.WARNING, logger="extract.mocap.bvh_import"):
        clip = _import(path)
    assert any("fits no unit" in record.getMessage() for record in caplog.records)
    hip, knee, ankle = (JOINT_INDEX[f"left_{joint}"] for joint in ("hip", "knee", "ankle"))
    legs = np.linalg.norm(clip.positions[:, knee] - clip.positions[:, hip], axis=-1)
    legs += np.linalg.norm(clip.positions[:, ankle] - clip.positions[:, knee], axis=-1)
    assert np.median(legs) == pytest.approx(0.85, abs=0.02)
    explicit = _import(path, scale=0.1)
    assert np.allclose(explicit.positions, clip.positions * (0.1 / (0.85 / 14.8)), atol=0.02)


def test_explicit_scale_on_bandai(bandai_walk: Path) -> None:
    automatic = _import(bandai_walk)
    assert np.allclose(_import(bandai_walk, scale=0.01).positions, automatic.positions)
    assert np.allclose(
        _import(bandai_walk, scale=0.02).positions, 2 * automatic.positions, atol=1e-5
    )


@pytest.mark.parametrize("scale", [1.0, 1e-5, -0.01, float("nan")])
def test_implausible_explicit_scale_is_refused(bandai_walk: Path, scale: float) -> None:
    with pytest.raises(MocapImportError, match=f"{bandai_walk.name}.*implausible scale"):
        _import(bandai_walk, scale=scale)


def test_z_up_file_is_turned_to_y_up(m21_walk: Path, tmp_path: Path) -> None:
    motion = read_bvh(m21_walk)
    z_up = euler_to_matrix(np.array([[90.0, 0.0, 0.0]]), "XYZ")[0]  # +y -> +z
    values = motion.channel_values.copy()
    values[:, 0:3] = values[:, 0:3] @ z_up.T
    root_rotation = euler_to_matrix(values[:, 3:6], "ZYX")
    values[:, 3:6] = matrix_to_euler(z_up @ root_rotation, "ZYX")
    path = tmp_path / "z_up.bvh"
    write_bvh(BvhMotion(motion.joints, motion.frame_time, values), path)
    assert np.allclose(_import(path).positions, _import(m21_walk).positions, atol=1e-4)


def test_60_fps_is_decimated_exactly() -> None:
    positions = np.random.default_rng(0).normal(size=(9, NUM_JOINTS, 3))
    assert np.array_equal(resample_positions(positions, 60.0, 30.0), positions[::2])
    assert resample_positions(positions, 30.0, 30.0) is positions


def test_resampling_interpolates_linearly_within_the_clip() -> None:
    times = np.arange(11) / 50.0  # 11 frames at 50 fps: 0.2 s
    positions = np.broadcast_to(times[:, None, None] * [1.0, 2.0, 3.0], (11, 2, 3))
    resampled = resample_positions(positions, 50.0, 30.0)
    expected_times = np.arange(7) / 30.0  # 0 .. 0.2 s
    assert resampled.shape == (7, 2, 3)
    assert np.allclose(resampled[:, 0], expected_times[:, None] * [1.0, 2.0, 3.0])


# ------------------------------------------------------------------------------ CMU 31


def _node(name: str, num_frames: int, offset=(0.0, 0.0, 0.0), end_site=None) -> dict:
    return {
        "name": name,
        "offset": np.array(offset, dtype=float),
        "channels": ("Zrotation", "Yrotation", "Xrotation"),
        "end_site": None if end_site is None else np.array(end_site, dtype=float),
        "values": np.zeros((num_frames, 3)),
        "children": [],
    }


def _tree(motion: BvhMotion) -> dict[str, dict]:
    nodes, column = [], 0
    for joint in motion.joints:
        width = len(joint.channels)
        values = motion.channel_values[:, column : column + width]
        column += width
        nodes.append({**_node(joint.name, 0), "offset": joint.offset, "channels": joint.channels})
        nodes[-1].update(end_site=joint.end_site, values=values)
        if joint.parent >= 0:
            nodes[joint.parent]["children"].append(nodes[-1])
    return {node["name"]: node for node in nodes}


def _insert_between(parent: dict, child: dict, new: dict) -> None:
    parent["children"][parent["children"].index(child)] = new
    new["children"].append(child)


def _flatten(node: dict, parent: int, joints: list, columns: list) -> None:
    index = len(joints)
    joints.append(
        BvhJoint(node["name"], parent, node["offset"], node["channels"], node["end_site"])
    )
    columns.append(node["values"])
    for child in node["children"]:
        _flatten(child, index, joints, columns)


def _cmu_31_from_m21(motion: BvhMotion) -> BvhMotion:
    """Rename m21's Neck1 to Neck and add CMU's extra joints with zero offsets and rotations."""
    nodes, frames = _tree(motion), motion.num_frames
    _insert_between(nodes["Hips"], nodes["LeftUpLeg"], _node("LHipJoint", frames))
    _insert_between(nodes["Hips"], nodes["RightUpLeg"], _node("RHipJoint", frames))
    _insert_between(nodes["Hips"], nodes["Spine"], _node("LowerBack", frames))
    nodes["Neck1"]["name"] = "Neck"
    _insert_between(nodes["Neck1"], nodes["Head"], _node("Neck1", frames))
    for side, letter, sign in (("Left", "L", 1.0), ("Right", "R", -1.0)):
        hand = nodes[f"{side}Hand"]
        finger = _node(f"{side}FingerBase", frames, offset=(sign * 2.0, 0.0, 0.0))
        finger["children"].append(_node(f"{side}HandIndex1", frames, end_site=(sign * 2, 0, 0)))
        thumb = _node(f"{letter}Thumb", frames, offset=(sign, 0.0, 1.0), end_site=(0, 0, 1.0))
        hand["children"] += [finger, thumb]
        hand["end_site"] = None
    joints: list[BvhJoint] = []
    columns: list[np.ndarray] = []
    _flatten(nodes["Hips"], -1, joints, columns)
    return BvhMotion(tuple(joints), motion.frame_time, np.concatenate(columns, axis=1))


def test_cmu_31_naming_gives_the_same_canonical_positions(m21_walk: Path, tmp_path: Path) -> None:
    cmu = _cmu_31_from_m21(read_bvh(m21_walk))
    assert len(cmu.joints) == 31
    assert detect_skeleton_map(cmu.joint_names) is CMU_31
    path = tmp_path / "cmu31_walk.bvh"
    write_bvh(cmu, path)
    assert np.allclose(_import(path).positions, _import(m21_walk).positions, atol=1e-5)


# ------------------------------------------------------------------------------ bad files


def _replace_first_value(text: str, replacement: str) -> str:
    head, marker, tail = text.partition("Frame Time:")
    time_line, _, data = tail.partition("\n")
    return f"{head}{marker}{time_line}\n{replacement} {data.partition(' ')[2]}"


_BAD_FILES = {
    "truncated.bvh": (lambda text: text[: int(len(text) * 0.7)], "fewer values"),
    "bad-number.bvh": (lambda text: _replace_first_value(text, "1.2.3"), "not a number"),
    "nan-values.bvh": (lambda text: _replace_first_value(text, "NaN"), "NaN"),
    "zero-frames.bvh": (
        lambda text: text[: text.index("Frames:")] + "Frames: 0\nFrame Time: 0.033333\n",
        "zero frames",
    ),
    # no wrist-like name left (a renamed pelvis alone is now found where the legs meet)
    "unknown-hierarchy.bvh": (lambda text: text.replace("Hand", "Paw"), "unknown hierarchy"),
    "no-motion.bvh": (lambda text: text[: text.index("MOTION")], "MOTION"),
}


@pytest.mark.parametrize("source", ["bandai_walk", "m21_walk"])
@pytest.mark.parametrize("name", sorted(_BAD_FILES))
def test_bad_files_raise_mocap_import_error_naming_the_file(
    name: str, source: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    transform, reason = _BAD_FILES[name]
    path = tmp_path / f"{source}-{name}"
    path.write_text(transform(request.getfixturevalue(source).read_text()))
    with pytest.raises(MocapImportError, match=reason) as caught:
        _import(path)
    assert path.name in str(caught.value)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.bvh"
    with pytest.raises(MocapImportError, match="missing.bvh"):
        _import(missing)
    binary = tmp_path / "binary.bvh"
    binary.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(MocapImportError, match="binary.bvh"):
        _import(binary)


def test_collapsed_skeleton_is_refused(m21_walk: Path, tmp_path: Path) -> None:
    motion = read_bvh(m21_walk)
    joints = tuple(
        BvhJoint(j.name, j.parent, np.zeros(3), j.channels, j.end_site) for j in motion.joints
    )
    path = tmp_path / "collapsed.bvh"
    write_bvh(BvhMotion(joints, motion.frame_time, motion.channel_values), path)
    with pytest.raises(MocapImportError, match="collapsed.bvh"):
        _import(path)


def test_overflowing_values_are_refused(m21_walk: Path, tmp_path: Path) -> None:
    path = tmp_path / "huge.bvh"
    path.write_text(_replace_first_value(m21_walk.read_text(), "1e308"))
    text = path.read_text().replace(" 94.537262 ", " 1e308 ", 1)
    path.write_text(text)
    with pytest.raises(MocapImportError, match="huge.bvh"):
        _import(path)


# ------------------------------------------------------------------------------ size bounds


def _with_frames(path: Path, frame_time: str, num_frames: int | None = None) -> str:
    """The file's text with `Frame Time` replaced and its data lines cycled to `num_frames`."""
    head, _, tail = path.read_text().partition("Frames:")
    rows = [row for row in tail.splitlines()[2:] if row.strip()]
    count = len(rows) if num_frames is None else num_frames
    rows = [rows[index % len(rows)] for index in range(count)]
    return f"{head}Frames: {count}\nFrame Time: {frame_time}\n" + "\n".join(rows) + "\n"


def test_import_error_is_a_one_line_user_input_error() -> None:
    assert issubclass(MocapImportError, UserInputError)
    assert issubclass(MocapImportError, ValueError)


@pytest.mark.parametrize("value", ["100", "3000", "1e-300", "1e-6", "1e300"])
def test_implausible_frame_time_is_refused(bandai_walk: Path, tmp_path: Path, value: str) -> None:
    path = tmp_path / "ftime.bvh"
    path.write_text(_with_frames(bandai_walk, value))
    line = path.read_text().splitlines().index(f"Frame Time: {value}") + 1
    start = time.monotonic()
    with pytest.raises(MocapImportError) as caught:
        _import(path)
    assert time.monotonic() - start < 5.0
    message = str(caught.value)
    assert f"ftime.bvh: line {line}: implausible frame time '{value}'" in message
    assert "accepted 0.001 to 1 s per frame (1 to 1000 fps)" in message


@pytest.mark.parametrize(("num_frames", "accepted"), [(7200, True), (7201, False)])
def test_clip_frames_budget_at_one_fps(
    bandai_walk: Path, tmp_path: Path, num_frames: int, accepted: bool
) -> None:
    """At 1 fps, 7200 frames give 215,971 frames at 30 fps and 7201 give 216,001 (2 h + 1)."""
    path = tmp_path / "long.bvh"
    path.write_text(_with_frames(bandai_walk, "1", num_frames))
    if accepted:
        assert _import(path).num_frames == 7199 * 30 + 1 <= MAX_CLIP_FRAMES
        return
    with pytest.raises(MocapImportError, match="long.bvh: 7201 frames at 1 fps give 216,001"):
        _import(path)


def test_clip_frames_budget_edge(
    bandai_walk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "edge.bvh"
    path.write_text(_with_frames(bandai_walk, "1"))  # 195 frames: 5821 at 30 fps
    monkeypatch.setattr(extract.mocap.bvh_import, "MAX_CLIP_FRAMES", 5821)
    assert _import(path).num_frames == 5821
    monkeypatch.setattr(extract.mocap.bvh_import, "MAX_CLIP_FRAMES", 5820)
    with pytest.raises(MocapImportError, match="edge.bvh: 195 frames at 1 fps give 5,821 frames"):
        _import(path)


def test_joint_frames_budget_edge(
    bandai_walk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extract.mocap.bvh_import, "MAX_SOURCE_JOINT_FRAMES", 195 * 22)
    assert _import(bandai_walk).num_frames == 195
    monkeypatch.setattr(extract.mocap.bvh_import, "MAX_SOURCE_JOINT_FRAMES", 195 * 22 - 1)
    with pytest.raises(MocapImportError, match="195 frames x 22 joints = 4,290 joint-frames"):
        _import(bandai_walk)


@pytest.mark.parametrize(
    ("frame_time", "num_frames", "clip_frames"), [("0.0333333", 1, 1), ("0.001", 20, 1)]
)
def test_clips_under_two_frames_are_refused(
    bandai_walk: Path, tmp_path: Path, frame_time: str, num_frames: int, clip_frames: int
) -> None:
    path = tmp_path / "short.bvh"
    path.write_text(_with_frames(bandai_walk, frame_time, num_frames))
    with pytest.raises(MocapImportError, match=f"give {clip_frames} frames at 30 fps, accepted 2"):
        _import(path)


@pytest.mark.parametrize(("value", "accepted"), [("1e6", True), ("1e8", False), ("1e300", False)])
def test_far_away_joints_are_refused(
    bandai_walk: Path, tmp_path: Path, value: str, accepted: bool
) -> None:
    """A root x of `value` cm in frame 0 only: 10 km is kept, 1000 km is not (nor float32 inf)."""
    path = tmp_path / "far.bvh"
    path.write_text(_replace_first_value(bandai_walk.read_text(), value))
    if accepted:
        assert np.abs(_import(path).positions).max() > 9_000.0
        return
    with pytest.raises(MocapImportError, match="far.bvh: implausible motion: a joint lies"):
        _import(path)
