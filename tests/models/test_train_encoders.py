"""The real training entry point on real Bandai clips: loss falls, checkpoints, resume, eval."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from extract.mocap.ingest import MocapIngestConfig, ingest_mocap
from flows.cli import main
from models.encoders.evaluate import EvalConfig, evaluate_encoders
from models.encoders.train import train_encoders
from models.encoders.train_config import TrainEncodersConfig
from models.encoders.training_data import TrainingDataError
from tests.bandai_split import BANDAI_SPLIT

TINY = [
    "model.d_model=32",
    "model.num_layers=1",
    "model.num_heads=2",
    "model.content_dim=16",
    "model.style_dim=16",
    "styles_per_batch=6",
    "windows_per_style=4",
    "warmup_steps=5",
    "coarse_refresh_every=20",
    "learning_rate=0.002",
    "log_every=1",
]


@pytest.fixture(scope="module")
def bandai_root(bandai_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train") / "dataset"
    ingest_mocap(MocapIngestConfig(str(bandai_dir), str(root), **BANDAI_SPLIT))
    return root


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_cli_trains_loss_falls_and_resumes(bandai_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    base = ["train-encoders", "--data", str(bandai_root), "--out", str(run)]
    assert (
        main([*base, *(f"--set={item}" for item in [*TINY, "steps=40", "checkpoint_every=20"])])
        == 0
    )
    first = _metrics(run)
    assert [m["step"] for m in first] == list(range(1, 41))
    start = sum(m["total"] for m in first[:8]) / 8
    end = sum(m["total"] for m in first[-8:]) / 8
    assert end < 0.9 * start, (start, end)
    described = json.loads((run / "run.json").read_text())
    assert described["train_clips"] == 116 and len(described["styles"]) == 15
    assert (
        main([*base, *(f"--set={item}" for item in [*TINY, "steps=50", "checkpoint_every=20"])])
        == 0
    )
    assert [m["step"] for m in _metrics(run)][40:] == list(range(41, 51))  # resumed, not restarted
    other = [*TINY, "steps=60", "model.content_instance_norm=true"]
    assert main([*base, *(f"--set={item}" for item in other)]) == 2  # another model: refused
    assert [m["step"] for m in _metrics(run)][-1] == 50  # and nothing written


def test_evaluation_report_on_held_out_clips(bandai_root: Path, tmp_path: Path) -> None:
    overrides = [*TINY, "steps=10"]
    config_values = {"data_root": str(bandai_root), "out": str(tmp_path / "run")}
    from flows.cli.encoders import train_config

    run = train_encoders(
        train_config(config_values["data_root"], config_values["out"], None, overrides)
    )
    report = evaluate_encoders(EvalConfig(run=str(run)), plot_path=tmp_path / "plot.png")
    assert report["query_clips"] == 45 and report["step"] == 10
    for key in ("style_knn_top1", "style_linear_probe", "style_from_content_leakage"):
        assert 0.0 <= report[key]["accuracy"] <= 1.0
    assert set(report["part_style_knn_top1"]) == {
        "torso",
        "left_arm",
        "right_arm",
        "left_leg",
        "right_leg",
    }
    by_content = report["style_knn_top1_by_content"]
    assert set(by_content) == {"guide", "byebye", "walk"}
    assert all(0.0 <= value <= 1.0 for value in by_content.values())
    assert (
        report["content_linear_probe"]["n"] > 0 and (tmp_path / "plot.png").stat().st_size > 10_000
    )
    by_dataset = report["style_from_content_leakage_by_dataset"]["bandai_namco_1"]
    assert set(by_dataset) == {"gallery_probe", "within"}
    assert by_dataset["gallery_probe"]["n"] == report["query_windows"]
    within = report["style_from_content_leakage_within_queries"]
    assert within["n"] == report["query_windows"] and 0.0 <= within["accuracy"] <= 1.0
    _check_the_style_eraser(run)


def _check_the_style_eraser(run: Path) -> None:
    """The fitted eraser leaves no linear style in the training windows' z_c; without it, some."""
    from models.encoders.evaluate import embed_clips
    from models.encoders.probes import linear_probe_accuracy
    from models.encoders.run import load_encoder_run
    from models.encoders.windows import load_clips

    note = json.loads((run / "run.json").read_text())["content_eraser"]
    assert note["fitted"] and note["styles"] == 15 and note["erased_rank"] >= 10
    loaded = load_encoder_run(run)
    clips = load_clips(loaded.data_root, splits=("train",))
    erased = embed_clips(loaded, clips, torch.device("cpu"))
    loaded.model.heads["content"].style_eraser.reset()
    raw = embed_clips(loaded, clips, torch.device("cpu"))
    labels = raw.style_labels
    before = linear_probe_accuracy(raw.content, labels, raw.content, labels)
    after = linear_probe_accuracy(erased.content, labels, erased.content, labels)
    assert after.accuracy < before.accuracy - 0.2, (before, after)
    assert after.accuracy < after.chance + 0.1, after
    assert main(["eval-encoders", "--run", str(run)]) == 0
    args = ["eval-encoders", "--run", str(run), "--set", "use_style_eraser=false"]
    assert main(args) == 0  # the eraser-off report goes beside the run's report, not over it
    erased = json.loads((run / "eval" / "report_test.json").read_text())
    kept = json.loads((run / "eval" / "report_test_no_eraser.json").read_text())
    assert erased["style_eraser"] and not kept["style_eraser"]


def test_ablations_over_seeds_give_mean_and_spread(bandai_root: Path, tmp_path: Path) -> None:
    table = tmp_path / "table.md"
    overrides = [f"--set={item}" for item in [*TINY, "steps=4", "checkpoint_every=4"]]
    args = ["ablate-encoders", "--data", str(bandai_root), "--out", str(tmp_path / "ab")]
    variants = ["--variants", "full,no-style-eraser", "--seeds", "0,1", "--table", str(table)]
    assert main([*args, *overrides, *variants]) == 0
    lines = table.read_text().splitlines()
    assert lines[0].startswith("| variant |") and "style kNN bandai_namco_1" in lines[0]
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["full", "no-style-eraser"]
    assert all(line.endswith("| 0,1 |") and "±" in line for line in lines[2:])
    for variant in ("full", "no-style-eraser"):
        for seed in (0, 1):
            card = json.loads((tmp_path / "ab" / variant / f"seed{seed}" / "run.json").read_text())
            assert card["config"]["seed"] == seed
            assert ("content_eraser" in card) == (variant == "full")
    assert main([*args, *overrides, "--variants", "full,nope"]) == 2
    assert main([*args, *overrides, "--seeds", "0,x"]) == 2


def test_a_single_style_dataset_is_refused(m21_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "m21"
    ingest_mocap(
        MocapIngestConfig(str(m21_dir / "content"), str(root), label_pattern="(?P<content>.+)")
    )
    with pytest.raises(TrainingDataError, match="style label"):
        train_encoders(TrainEncodersConfig(data_root=str(root), out=str(tmp_path / "run")))


def test_torchrun_ddp_on_cpu(bandai_root: Path, tmp_path: Path) -> None:
    """Two gloo ranks train the same run; rank 0 alone writes logs and the checkpoint."""
    torchrun = Path(sys.executable).with_name("torchrun")
    cli = Path(sys.executable).with_name("stylemotion")
    sets = [f"--set={item}" for item in [*TINY, "steps=4", "coarse_refresh_every=2"]]
    command = [
        str(torchrun),
        "--standalone",
        "--nproc_per_node",
        "2",
        str(cli),
        "train-encoders",
        "--data",
        str(bandai_root),
        "--out",
        str(tmp_path / "run"),
        *sets,
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    assert [m["step"] for m in _metrics(tmp_path / "run")] == [1, 2, 3, 4]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["world_size"] == 2
    assert (tmp_path / "run" / "last.pt").is_file()
