"""Fixtures of the report tests: one small real main-job folder, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.artefacts import (
    ingest_dataset,
    write_diffusion_run,
    write_encoder_run,
    write_evaluate_output,
    write_stylize_output,
)


@pytest.fixture(scope="session")
def job(bandai_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ROOT of a main job: dataset/, runs/encoders, runs/diffusion, stylized/, evaluate/."""
    root = tmp_path_factory.mktemp("job")
    dataset = ingest_dataset(bandai_dir, root)
    encoders = write_encoder_run(root / "runs" / "encoders", dataset)
    diffusion = write_diffusion_run(root / "runs" / "diffusion", dataset, encoders)
    write_stylize_output(dataset, root / "stylized", diffusion)
    write_evaluate_output(root / "evaluate")
    return root
