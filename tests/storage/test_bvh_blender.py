"""Exported BVH files open in Blender's own BVH importer and move as the stored clip does.

Blender runs from a separate environment (bpy pins numpy<2): `make test` builds it with
`scripts/install_blender.sh` and passes its interpreter in BLENDER_PYTHON.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from extract.mocap.bvh_import import import_bvh
from storage.bvh import read_bvh
from storage.bvh_export import write_clip_bvh
from storage.skeleton import JOINT_NAMES

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "blender_bvh_positions.py"


@pytest.fixture(scope="module")
def blender_python() -> str:
    value = os.environ.get("BLENDER_PYTHON")
    if not value or not Path(value).exists():
        pytest.skip("BLENDER_PYTHON unset: run `make test` (it installs Blender's bpy) to check")
    return value


@pytest.mark.parametrize(
    "relative", ["bandai_namco_1/dataset-1_walk_happy_001.bvh", "semi_mst_m21/style/ZOMBIE.bvh"]
)
def test_blender_imports_the_export_with_the_clips_motion(
    blender_python: str, shared_data: Path, tmp_path: Path, relative: str
) -> None:
    clip = import_bvh(shared_data / "motion" / relative, dataset="t", source_key=relative)
    exported = tmp_path / "export.bvh"
    write_clip_bvh(clip, exported)
    dumped = tmp_path / "blender.npz"
    subprocess.run(
        [blender_python, str(SCRIPT), str(exported), str(dumped)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    blender = np.load(dumped)
    names = [str(name) for name in blender["names"]]
    assert names[: len(JOINT_NAMES)] == list(JOINT_NAMES)
    assert blender["positions"].shape[0] == clip.num_frames
    assert float(blender["fps"]) == pytest.approx(clip.fps, rel=1e-3)
    scale = _file_units_per_metre(exported, clip.positions)
    in_metres = blender["positions"][:, : len(JOINT_NAMES)] / scale  # (T, J, 3)
    error = np.linalg.norm(in_metres - clip.positions, axis=-1)
    assert error.mean() < 0.01, f"mean joint error {error.mean() * 100:.2f} cm"


def _file_units_per_metre(path: Path, positions: np.ndarray) -> float:
    """The exporter's unit: ratio of the file's thigh length to the clip's."""
    motion = read_bvh(path)
    knee = [j.name for j in motion.joints].index("left_knee")
    file_length = float(np.linalg.norm(motion.joints[knee].offset))
    clip_length = float(np.median(np.linalg.norm(positions[:, 12] - positions[:, 11], axis=-1)))
    return file_length / clip_length
