"""Fixtures of the flow tests: one Prefect test server for the session, real data subsets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """A local Prefect server (SQLite in a temporary directory) for every flow test; its API URL."""
    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def sample_videos(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one short real video, a 5-frame one and a file that is not a video."""
    folder = tmp_path_factory.mktemp("videos")
    (folder / "dance.mp4").symlink_to(shared_data / "video/footskate_reducer/dance.mp4")
    (folder / "street.mp4").symlink_to(shared_data / "video/mmpose/demo.mp4")
    (folder / "broken.mp4").write_text("not a video\n" * 50)
    return folder
