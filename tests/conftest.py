"""Shared fixtures: where the real sample data lives (the STYLEMOTION_DATA setting)."""

from __future__ import annotations

import os
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
