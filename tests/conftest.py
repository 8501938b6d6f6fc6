"""Shared fixtures: where the real sample data lives (the STYLEMOTION_DATA setting)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The sample data directory named by STYLEMOTION_DATA (the Makefile sets a default)."""
    value = os.environ.get("STYLEMOTION_DATA")
    if not value:
        pytest.fail("STYLEMOTION_DATA is not set: point it at the sample data (../shared/data)")
    path = Path(value)
    if not (path / "motion" / "INDEX.csv").is_file():
        pytest.fail(f"STYLEMOTION_DATA={value} does not hold the sample data (motion/INDEX.csv)")
    return path


@pytest.fixture(scope="session")
def bandai_dir(shared_data: Path) -> Path:
    return shared_data / "motion" / "bandai_namco_1"


@pytest.fixture(scope="session")
def m21_dir(shared_data: Path) -> Path:
    return shared_data / "motion" / "semi_mst_m21"


@pytest.fixture(scope="session")
def pose_model(shared_data: Path) -> Iterator[Path]:
    """The offline pose model beside the sample data, set as STYLEMOTION_POSE_MODEL."""
    path = shared_data.parent / "models" / "pose_landmarker_full.task"
    if not path.is_file():
        pytest.fail(f"{path} missing: the pose model must sit in ../shared/models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STYLEMOTION_POSE_MODEL", str(path))
        yield path


@pytest.fixture(scope="session")
def motion_dir(shared_data: Path) -> Path:
    return shared_data / "motion"
