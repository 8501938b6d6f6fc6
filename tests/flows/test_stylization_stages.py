"""The stages after the encoders under Prefect: diffusion -> evaluator -> stylize -> evaluation.

On the real Bandai subset and the tiny encoder run of the scene tests (tiny models, a few steps:
this checks the machinery, not quality), with the three stylize jobs of the demo: a style label,
a style taken from a real video nobody trained on, and arms only. A re-run skips every stage.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from flows.sample_config import StylizationSchedule, sample_stylization
from flows.stylization_flows import DONE_MARKER, stylize_stages_flow
from flows.validation import ParameterError
from models.diffusion.checkpoint import load_run_checkpoint
from tests.models.scene_fixtures import scene_workspace

SCHEDULE = StylizationSchedule(
    vae_steps=20, base_steps=20, adaptor_steps=6, evaluator_steps=20, batch_size=16, sources=2,
    tiny=True,
)  # fmt: skip


@pytest.fixture(scope="module")
def workspace(bandai_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return scene_workspace(bandai_dir, tmp_path_factory)


@pytest.mark.slow
def test_every_stage_runs_and_a_rerun_skips_them(
    prefect_server, workspace: dict[str, Path], shared_data: Path, tmp_path: Path
) -> None:
    root, encoders = str(workspace["data"]), str(workspace["encoders"])
    config = sample_stylization(shared_data, tmp_path, root, encoders, SCHEDULE)
    evaluation = replace(config.evaluation, styles=("angry", "happy"), strengths=(0.0, 1.0))
    config = replace(config, evaluation=evaluation)
    config = replace(config, jobs=tuple(replace(job, write_previews=False) for job in config.jobs))
    jobs = [replace(job, parts={"arms": "tired"}) if job.parts else job for job in config.jobs]
    config = replace(config, jobs=(*jobs[:2], replace(jobs[2], write_previews=True)))
    outcome = stylize_stages_flow(config)
    assert Path(outcome["diffusion"]["adaptor"]["run_dir"], "last.pt").is_file()
    adaptor = load_run_checkpoint(Path(outcome["diffusion"]["adaptor"]["run_dir"]))
    assert adaptor.model.config.source_control  # the stages train the source-control branch
    assert Path(outcome["evaluator"]["checkpoint"]).is_file()
    assert [job["stylized"] for job in outcome["stylize"]] == [2, 2, 2]
    assert [job["failed"] for job in outcome["stylize"]] == [0, 0, 0]
    for job in config.jobs:
        assert len(list(Path(job.out).rglob("*.bvh"))) == 2, job.out
    assert len(list(Path(config.jobs[2].out).rglob("*.mp4"))) == 2  # source | stylized
    assert Path(outcome["evaluation"]["plot"]).stat().st_size > 10_000
    assert Path(outcome["evaluation"]["report"]).is_file()
    assert all((Path(job.out) / DONE_MARKER).is_file() for job in config.jobs)
    page = Path(outcome["report"])
    assert page == tmp_path / "report" / "index.html"
    html = page.read_text()
    assert html.count("<video") == 2 and "sweep" in html and "angry" in html  # 2 previews
    again = stylize_stages_flow(config)
    assert again["diffusion"]["skipped"] and again["evaluator"]["skipped"]
    assert all(job["skipped"] for job in again["stylize"]) and again["evaluation"]["skipped"]
    other = replace(config.jobs[0], strength=1.0)  # a changed job runs again, the rest skip
    changed = stylize_stages_flow(replace(config, jobs=(other,), evaluation=None))
    assert "skipped" not in changed["stylize"][0] and changed["diffusion"]["skipped"]


def test_stages_that_do_not_fit_together_are_refused(
    workspace: dict[str, Path], shared_data: Path, tmp_path: Path
) -> None:
    root, encoders = str(workspace["data"]), str(workspace["encoders"])
    config = sample_stylization(shared_data, tmp_path, root, encoders, SCHEDULE)
    wrong = replace(config.jobs[0], run=str(tmp_path / "elsewhere"))
    with pytest.raises(ParameterError, match=r"config.jobs\[0\].run: must be adaptor_out"):
        stylize_stages_flow.fn(replace(config, jobs=(wrong,)))
    with pytest.raises(ParameterError, match="adaptor_steps: must be > 0"):
        stylize_stages_flow.fn(replace(config, adaptor_steps=0))
