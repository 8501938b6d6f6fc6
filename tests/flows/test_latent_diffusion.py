"""The latent mode end to end on real Bandai clips: train-vae, latent base + adaptor, stylize.

Tiny models on the session's real Bandai subset (shared with the stylize and scene tests): these
check the machinery (the VAE learns, the denoiser runs on latent frames, stylized clips come back
at the source's length, a changed VAE is refused), not quality, which docs/STYLIZATION.md
measures.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from flows.cli import main
from models.diffusion.checkpoint import DiffusionCheckpointError, load_run_checkpoint
from models.diffusion.motion_vae import MotionVAE
from models.diffusion.stylize import DiffusionStylizer
from models.diffusion.train_vae import reconstruction_error_m
from models.diffusion.vae_run import VAE_CHECKPOINT, load_vae_run
from storage.shard_reader import ClipFilter, ShardReader
from tests.models.scene_fixtures import TINY_DENOISER, scene_workspace

TINY_VAE = [
    "model.hidden=32",
    "model.latent_dim=8",
    "batch_size=32",
    "log_every=5",
    "learning_rate=0.003",
]


@pytest.fixture(scope="module")
def latent_runs(bandai_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    workspace = scene_workspace(bandai_dir, tmp_path_factory)
    work = tmp_path_factory.mktemp("latent_runs")
    data = ["--data", str(workspace["data"]), "--encoders", str(workspace["encoders"])]
    vae = work / "vae"
    vae_sets = [f"--set={item}" for item in (*TINY_VAE, "steps=150", "warmup_steps=5")]
    assert main(["train-vae", *data, "--out", str(vae), *vae_sets]) == 0
    sets = [f"--set={item}" for item in TINY_DENOISER]
    base = work / "base"
    latent = ["--latent-vae", str(vae)]
    assert (
        main(["train-diffusion", *data, "--out", str(base), *latent, *sets, "--set=steps=20"]) == 0
    )
    adaptor = work / "adaptor"
    stage = ["--stage", "adaptor", "--base", str(base), "--out", str(adaptor), "--set=steps=4"]
    assert main(["train-diffusion", *data, *stage, *sets]) == 0
    return {"data": workspace["data"], "encoders": workspace["encoders"], "vae": vae,
            "base": base, "adaptor": adaptor, "work": work}  # fmt: skip


def test_vae_learns_real_windows(latent_runs: dict[str, Path]) -> None:
    metrics = [json.loads(line) for line in (latent_runs["vae"] / "metrics.jsonl").open()]
    assert metrics[-1]["reconstruction"] < 0.7 * metrics[0]["reconstruction"]
    report = json.loads((latent_runs["vae"] / "report.json").read_text())
    assert report["train_windows"] > 0 and np.isfinite(report["train_reconstruction_error_m"])
    run = load_vae_run(latent_runs["vae"])
    untrained = MotionVAE(run.space.vae.config)
    torch.manual_seed(0)
    clip = next(ShardReader(str(latent_runs["data"])).iter_clips(ClipFilter(style="normal")))
    from models.diffusion.motion_repr import to_local_window

    window = torch.as_tensor(to_local_window(clip.positions[:60])[0])[None]
    trained_error = reconstruction_error_m(run.space.vae, run.space.normaliser, window)
    untrained_error = reconstruction_error_m(untrained, run.space.normaliser, window)
    assert trained_error < 0.8 * untrained_error, (trained_error, untrained_error)


def test_latent_denoiser_works_on_latent_frames_and_stylizes(
    latent_runs: dict[str, Path],
) -> None:
    run = load_run_checkpoint(latent_runs["adaptor"])
    vae = load_vae_run(latent_runs["vae"])
    assert run.latent_vae is not None and run.latent_vae.checksum == vae.checksum
    assert run.model.config.window_frames == 15 and run.model.config.motion_dim == 8
    assert run.model.config.content_stride == 1 and run.motion_frames == 60
    stylizer = DiffusionStylizer.load(latent_runs["adaptor"], steps=3)
    source = next(ShardReader(str(latent_runs["data"])).iter_clips(ClipFilter(style="normal")))
    condition = stylizer.condition_of_label("angry")
    short = source.positions[:40]
    outputs = stylizer.stylize_positions([short, source.positions], [condition] * 2, 1.5, seed=1)
    assert outputs[0].shape == (40, 19, 3) and outputs[1].shape == source.positions.shape
    assert all(np.isfinite(out).all() for out in outputs)
    again = stylizer.stylize_positions([short, source.positions], [condition] * 2, 1.5, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(outputs, again, strict=True))


def test_rhythm_condition_is_trained_saved_and_used_when_stylizing(
    latent_runs: dict[str, Path],
) -> None:
    """The gesture-rhythm condition rides with the trajectory through base, adaptor, checkpoint
    and sampling (four rhythm + trajectory channel groups per latent frame)."""
    common = ["--data", str(latent_runs["data"]), "--encoders", str(latent_runs["encoders"])]
    sets = [f"--set={item}" for item in TINY_DENOISER]
    base, adaptor = latent_runs["work"] / "rhythm_base", latent_runs["work"] / "rhythm_adaptor"
    latent = ["--latent-vae", str(latent_runs["vae"]), "--set=rhythm_condition=true"]
    assert (
        main(["train-diffusion", *common, "--out", str(base), *latent, *sets, "--set=steps=3"]) == 0
    )
    stage = ["--stage", "adaptor", "--base", str(base), "--out", str(adaptor), "--set=steps=2"]
    assert main(["train-diffusion", *common, *stage, *sets]) == 0
    config = load_run_checkpoint(adaptor).model.config
    assert config.rhythm_condition and config.trajectory_dim == (4 + 15) * 4
    stylizer = DiffusionStylizer.load(adaptor, steps=2)
    source = next(ShardReader(str(latent_runs["data"])).iter_clips(ClipFilter(style="normal")))
    condition = stylizer.condition_of_label("angry")
    (output,) = stylizer.stylize_positions([source.positions], [condition], 1.0, seed=0)
    assert output.shape == source.positions.shape and np.isfinite(output).all()
    plain_base = ["--stage", "adaptor", "--base", str(latent_runs["base"]), "--set=steps=1"]
    asked = ["--set=rhythm_condition=true", "--out", str(latent_runs["work"] / "y")]
    assert main(["train-diffusion", *common, *plain_base, *asked, *sets]) == 2  # base lacks it
    no_trajectory = ["--set=trajectory_condition=false", "--out", str(latent_runs["work"] / "x")]
    assert main(["train-diffusion", *common, *latent, *sets, *no_trajectory]) == 2


def test_changed_vae_and_mismatched_requests_are_refused(latent_runs: dict[str, Path]) -> None:
    common = ["--data", str(latent_runs["data"]), "--encoders", str(latent_runs["encoders"])]
    other = latent_runs["work"] / "other_vae"
    sets = [f"--set={item}" for item in (*TINY_VAE, "steps=2", "seed=1")]
    assert main(["train-vae", *common, "--out", str(other), *sets]) == 0
    stage = ["--stage", "adaptor", "--base", str(latent_runs["base"]), "--set=steps=1"]
    out = ["--out", str(latent_runs["work"] / "refused"), "--latent-vae", str(other)]
    assert main(["train-diffusion", *common, *stage, *out]) == 2  # not the base's VAE
    bad_factor = latent_runs["work"] / "vae_factor8"
    factor = [f"--set={item}" for item in (*TINY_VAE, "steps=1", "model.downsample=8")]
    assert main(["train-vae", *common, "--out", str(bad_factor), *factor]) == 2  # 60 % 8
    checkpoint = latent_runs["vae"] / VAE_CHECKPOINT
    original = checkpoint.read_bytes()
    try:
        payload = torch.load(checkpoint, weights_only=True)
        payload["report"]["note"] = "retrained"
        torch.save(payload, checkpoint)
        with pytest.raises(DiffusionCheckpointError, match="mismatched VAE run"):
            load_run_checkpoint(latent_runs["adaptor"])
    finally:
        checkpoint.write_bytes(original)


def test_train_diffusion_flow_trains_the_vae_first_in_latent_mode(
    prefect_server: str, latent_runs: dict[str, Path], tmp_path: Path
) -> None:
    from flows.diffusion_flows import train_diffusion_flow
    from flows.validation import ParameterError
    from models.diffusion.train import TrainDiffusionConfig
    from models.diffusion.train_vae import TrainVAEConfig, VAESize

    data, encoders = str(latent_runs["data"]), str(latent_runs["encoders"])
    vae = TrainVAEConfig(
        data, encoders, str(tmp_path / "vae"), steps=2, batch_size=8,
        model=VAESize(hidden=16, latent_dim=4),
    )  # fmt: skip
    config = TrainDiffusionConfig(
        data_root=data, encoder_run=encoders, out=str(tmp_path / "base"), steps=2, batch_size=8,
    )  # fmt: skip
    outcome = train_diffusion_flow(config, vae=vae)
    assert outcome["vae"]["run_dir"] == str(tmp_path / "vae")
    run = load_run_checkpoint(tmp_path / "base")
    assert run.latent_vae is not None and run.model.config.motion_dim == 4
    with pytest.raises(ParameterError, match="latent_vae"):
        train_diffusion_flow(TrainDiffusionConfig(**{**config.__dict__, "latent_vae": "/nope"}))


def test_evaluate_scores_several_runs_in_one_report(
    latent_runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from models.evaluation.train_evaluator import TrainEvaluatorConfig, train_evaluator

    data = latent_runs["data"]
    evaluator = tmp_path / "evaluator"
    train_evaluator(TrainEvaluatorConfig(str(data), str(evaluator), steps=10))
    other = tmp_path / "second_adaptor"  # the same run under another name: two model curves
    other.mkdir()
    (other / "last.pt").write_bytes((latent_runs["adaptor"] / "last.pt").read_bytes())
    args = ["evaluate", "--data", str(data), "--evaluator", str(evaluator), "--styles", "angry"]
    args += ["--run", str(latent_runs["adaptor"]), str(other), "--seeds", "0", "--no-parts"]
    args += ["--strengths", "1", "--ddim-steps", "2", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {row["stylizer"]: row for row in report["results"]}
    assert {"diffusion:adaptor", "diffusion:second_adaptor"} <= set(rows)
    first, second = rows["diffusion:adaptor"], rows["diffusion:second_adaptor"]
    assert first["items"] == second["items"] > 0
    assert first["trajectory_error_m"] == pytest.approx(second["trajectory_error_m"])
