"""The feed-forward AdaIN baseline end to end on real Bandai clips: train, load, stylize, refuse,
and score it with `stylemotion evaluate --adain`.

The real Bandai subset and tiny encoder run are the scene tests' (`scene_workspace`); the network
is tiny and trained for a few dozen steps, so these tests check the machinery (the loss falls,
checkpoints, shapes, strength, provenance, bad input), not stylization quality.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from flows.cli import main
from models.common.config_io import config_from_dict
from models.diffusion.data import build_diffusion_data
from models.diffusion.stylize import StyleTarget, StylizeError
from models.encoders.run import load_encoder_run
from models.feedforward.checkpoint import (
    AdaINCheckpointError,
    load_adain_run,
    save_adain_checkpoint,
)
from models.feedforward.stylize import AdaINStylizer
from models.feedforward.train import TrainAdaINConfig, frozen_codes
from storage.records import MotionClip
from storage.shard_reader import ClipFilter, ShardReader
from storage.skeleton import JOINT_INDEX
from tests.flows.cli_refusal import assert_refused
from tests.models.scene_fixtures import STYLES, scene_workspace

TINY_ADAIN = [
    "model.channels=32", "model.num_layers=2", "model.style_hidden=64", "batch_size=16",
    "warmup_steps=2", "log_every=1", "learning_rate=0.003", "steps=40",
]  # fmt: skip


@pytest.fixture(scope="module")
def workspace(bandai_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return scene_workspace(bandai_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def adain_run(workspace: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("adain_runs") / "adain"
    args = ["train-adain", "--data", str(workspace["data"]), "--encoders"]
    args += [str(workspace["encoders"]), "--out", str(out)]
    assert main([*args, *(f"--set={item}" for item in TINY_ADAIN)]) == 0
    return out


@pytest.fixture(scope="module")
def stylizer(adain_run: Path) -> AdaINStylizer:
    return AdaINStylizer.load(adain_run)


@pytest.fixture(scope="module")
def normal_clips(workspace: dict[str, Path]) -> list[MotionClip]:
    reader = ShardReader(str(workspace["data"]))
    clips = sorted(reader.iter_clips(ClipFilter(style="normal")), key=lambda c: -c.num_frames)
    return clips


def _error_m(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b, axis=-1).mean())


def test_training_loss_falls_and_the_checkpoint_round_trips(
    adain_run: Path, workspace: dict[str, Path], tmp_path: Path
) -> None:
    metrics = [json.loads(line) for line in (adain_run / "metrics.jsonl").read_text().splitlines()]
    expected = {"reconstruction", "velocity", "style", "part_style", "content", "key_joint"}
    assert expected | {"foot", "bone", "total"} <= set(metrics[-1])
    start = np.mean([m["total"] for m in metrics[:5]])
    end = np.mean([m["total"] for m in metrics[-5:]])
    assert end < 0.5 * start, (start, end)

    run = load_adain_run(adain_run)
    encoders = load_encoder_run(workspace["encoders"])
    assert run.step == 40 and run.model.config.channels == 32 and not run.model.training
    assert run.vocabulary.styles == STYLES == tuple(sorted(STYLES))
    assert run.prototypes.shape == (len(STYLES), encoders.model.config.style_dim)
    assert run.part_prototypes.shape == (len(STYLES), 5, encoders.model.config.style_dim)
    assert run.encoder_checksum == encoders.checksum
    assert Path(run.encoder_run) == workspace["encoders"].resolve()
    assert json.loads((adain_run / "run.json").read_text())["config"]["steps"] == 40

    _, codes = frozen_codes(str(workspace["encoders"]), torch.device("cpu"))
    data = build_diffusion_data(str(workspace["data"]), codes, encoders.vocabulary)
    config = config_from_dict(TrainAdaINConfig, run.train_config)
    save_adain_checkpoint(tmp_path, run.model, config, data, encoders, run.step)
    again = load_adain_run(tmp_path)
    for name, value in run.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[name]), name
    assert np.array_equal(again.normaliser.mean, run.normaliser.mean)  # same data, same fit
    assert torch.allclose(again.prototypes, run.prototypes)
    assert again.train_config == run.train_config and again.encoder_run == run.encoder_run


def test_outputs_keep_the_source_length_and_are_deterministic(
    stylizer: AdaINStylizer, normal_clips: list[MotionClip]
) -> None:
    long, shortest = normal_clips[0], normal_clips[-1]
    assert long.num_frames > stylizer.window > shortest.num_frames
    targets = [StyleTarget("angry"), StyleTarget("happy")]
    first = stylizer.stylize([long, shortest], targets, 1.0, seed=0)
    again = stylizer.stylize([long, shortest], targets, 1.0, seed=7)  # the seed is unused
    assert first[0].shape == long.positions.shape and first[1].shape == shortest.positions.shape
    assert all(np.isfinite(out).all() for out in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    tired = stylizer.condition_of_label("tired")
    assert stylizer.stylize_positions([long.positions[:25]], [tired], 1)[0].shape == (25, 19, 3)


def test_strength_moves_from_the_source_towards_the_target(
    stylizer: AdaINStylizer, normal_clips: list[MotionClip]
) -> None:
    source = normal_clips[0]
    angry0, happy0, angry1, angry3 = (
        stylizer.stylize([source], [StyleTarget(style)], strength, seed=0)[0]
        for style, strength in (("angry", 0), ("happy", 0), ("angry", 1), ("angry", 3))
    )
    assert np.array_equal(angry0, happy0)  # strength 0: the source's own codes, whatever asked
    assert not np.allclose(angry0, angry1, atol=1e-5) and not np.allclose(angry1, angry3, atol=1e-5)
    assert _error_m(angry0, source.positions) < 0.25  # the reconstruction path (loose: 40 steps)
    pelvis = JOINT_INDEX["pelvis"]  # root passthrough: the source's ground path
    assert np.allclose(angry1[:, pelvis, [0, 2]], source.positions[:, pelvis, [0, 2]], atol=1e-4)
    arms = stylizer.stylize([source], [StyleTarget("normal", {"arms": "angry"})], 1.0, seed=0)[0]
    legs = [JOINT_INDEX[name] for name in ("left_knee", "right_ankle", "head")]
    assert np.allclose(arms[:, legs], source.positions[:, legs], atol=1e-5)  # composed
    wrist = JOINT_INDEX["left_wrist"]
    assert not np.allclose(arms[:, wrist], source.positions[:, wrist], atol=1e-3)


def test_bad_requests_and_changed_encoders_are_refused(
    stylizer: AdaINStylizer, adain_run: Path, normal_clips: list[MotionClip], tmp_path: Path
) -> None:
    source = normal_clips[0]
    for strength in (11, -0.5, float("nan")):
        with pytest.raises(StylizeError, match=f"strength {strength:g} outside"):
            stylizer.stylize([source], [StyleTarget("angry")], strength, seed=0)
    with pytest.raises(StylizeError, match="unknown style 'sneaky'.*angry"):
        stylizer.stylize([source], [StyleTarget("sneaky")], 1.0, seed=0)
    with pytest.raises(StylizeError, match="unknown style 'zorro'"):
        stylizer.stylize([source], [StyleTarget("angry", {"arms": "zorro"})], 1.0, seed=0)
    with pytest.raises(StylizeError, match="unknown body part 'tail'"):
        stylizer.stylize([source], [StyleTarget("angry", {"tail": "happy"})], 1.0, seed=0)
    with pytest.raises(AdaINCheckpointError, match="is it a train-adain run"):
        AdaINStylizer.load(tmp_path)
    changed = tmp_path / "changed"
    shutil.copytree(adain_run, changed)
    payload = torch.load(changed / "last.pt", weights_only=True)
    torch.save(payload | {"encoder_checksum": "0" * 64}, changed / "last.pt")
    with pytest.raises(AdaINCheckpointError, match="000000000000.*mismatched encoder run"):
        AdaINStylizer.load(changed)
    torch.save(payload | {"kind": "stylemotion-motion-denoiser"}, changed / "last.pt")
    with pytest.raises(AdaINCheckpointError, match="not an AdaIN stylizer checkpoint"):
        AdaINStylizer.load(changed)


def test_train_adain_refuses_bad_settings_and_inputs(
    workspace: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    base = ["train-adain", "--data", str(workspace["data"]), "--out", str(tmp_path / "x")]
    encoders = ["--encoders", str(workspace["encoders"])]
    assert_refused(capsys, [*base, *encoders, "--set", "model.kernel=4"], "kernel", "odd")
    assert_refused(capsys, [*base, *encoders, "--set", "cross_style_fraction=2"], "[0, 1]")
    assert_refused(capsys, [*base, "--encoders", str(tmp_path / "no")], "(--encoders)")
    assert_refused(capsys, [*base, "--encoders", str(tmp_path)], "is it a train-encoders run")
    assert not (tmp_path / "x" / "last.pt").exists()


def test_train_adain_settings_precedence(tmp_path: Path) -> None:
    from flows.cli import build_parser
    from flows.cli.feedforward import adain_config

    config_file = tmp_path / "adain.yaml"
    config_file.write_text("steps: 7\nout: from-file\nmodel: {channels: 16}\n")
    argv = ["train-adain", "--data", "D", "--encoders", "E", "--out", "O"]
    argv += ["--config", str(config_file), "--set", "model.kernel=3", "--set", "steps=9"]
    config = adain_config(build_parser().parse_args(argv))
    assert (config.data_root, config.encoder_run, config.out) == ("D", "E", "O")  # flags > file
    assert (config.steps, config.model.channels, config.model.kernel) == (9, 16, 3)
    assert config.batch_size == 64 and config.losses.style_enabled  # defaults


def test_evaluate_scores_adain_runs_beside_the_baselines(
    adain_run: Path, workspace: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from models.evaluation.train_evaluator import TrainEvaluatorConfig, train_evaluator

    evaluator = tmp_path / "evaluator"
    train_evaluator(TrainEvaluatorConfig(str(workspace["data"]), str(evaluator), steps=20))
    base = ["evaluate", "--data", str(workspace["data"]), "--evaluator", str(evaluator)]
    base += ["--styles", "angry", "--seeds", "0"]
    assert main([*base, "--adain", str(adain_run), "--strengths", "0,2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {(row["stylizer"], row["strength"]) for row in report["results"]}
    assert ("feed-forward AdaIN", 0.0) in rows and ("feed-forward AdaIN", 2.0) in rows
    assert {"identity", "style_clip_copy", "nearest_neighbour"} <= {name for name, _ in rows}
    scored = [row for row in report["results"] if row["stylizer"] == "feed-forward AdaIN"]
    assert all(row["sra"] is not None for row in scored), scored
    assert not [f for f in report["failures"] if f.get("stylizer") == "feed-forward AdaIN"]

    copy = tmp_path / "adain_copy"
    shutil.copytree(adain_run, copy)
    two = [*base, "--adain", str(adain_run), str(copy), "--no-parts", "--json"]
    assert main(two) == 0
    names = {row["stylizer"] for row in json.loads(capsys.readouterr().out)["results"]}
    assert {"feed-forward AdaIN:adain", "feed-forward AdaIN:adain_copy"} <= names
    assert_refused(capsys, [*base, "--adain", str(tmp_path / "none")], "(--adain)")
    (tmp_path / "empty").mkdir()
    assert_refused(capsys, [*base, "--adain", str(tmp_path / "empty")], "train-adain run")
