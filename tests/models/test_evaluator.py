"""The independent evaluator: network shapes, invariance, real training, freezing, checksums."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from extract.mocap.ingest import MocapIngestConfig, ingest_mocap
from flows.cli import main
from models.encoders.windows import load_clips, split_of
from models.evaluation.evaluator import (
    FRAME_FEATURES,
    EvaluatorChecksumError,
    EvaluatorError,
    EvaluatorNet,
    EvaluatorNetConfig,
    evaluator_frame_features,
    load_evaluator,
    save_evaluator,
)
from models.evaluation.train_evaluator import (
    TrainEvaluatorConfig,
    cross_fit_folds,
    load_evaluator_data,
)
from storage.canonical import rotation_about_y
from storage.checksums import file_sha256
from tests.bandai_split import BANDAI_SPLIT

TINY = [
    "steps=120",
    "batch_size=32",
    "log_every=10",
    "model.dropout=0.0",
    "feature_noise=0.0",
]


@pytest.fixture(scope="module")
def bandai_root(bandai_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("evaluator") / "dataset"
    ingest_mocap(MocapIngestConfig(str(bandai_dir), str(root), **BANDAI_SPLIT))
    return root


@pytest.fixture(scope="module")
def trained(bandai_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short `stylemotion train-evaluator` on the real clips."""
    out = tmp_path_factory.mktemp("evaluator") / "evaluator"
    sets = [f"--set={item}" for item in TINY]
    assert main(["train-evaluator", "--data", str(bandai_root), "--out", str(out), *sets]) == 0
    return out


def test_network_shapes() -> None:
    network = EvaluatorNet(EvaluatorNetConfig(num_styles=5, num_contents=3, channels=(16, 16)))
    features, styles, contents = network(torch.zeros(4, 48, FRAME_FEATURES))
    assert features.shape == (4, 32) and styles.shape == (4, 5) and contents.shape == (4, 3)


def test_frame_features_ignore_where_the_clip_stands_and_faces(bandai_root: Path) -> None:
    clip = load_clips(bandai_root, splits=("val",))[0]
    moved = clip.positions @ rotation_about_y(2.0).T.astype(np.float32) + np.float32([3, 0, -2])
    original = evaluator_frame_features(clip.positions)
    assert original.shape == (clip.num_frames, FRAME_FEATURES)
    np.testing.assert_allclose(evaluator_frame_features(moved), original, atol=2e-3)


def test_split_is_encoder_unseen_pool_plus_training_extra_with_a_checkerboard(
    bandai_root: Path,
) -> None:
    config = TrainEvaluatorConfig(data_root=str(bandai_root), out="unused", window_frames=48)
    data = load_evaluator_data(config)
    assert {split_of(clip) for clip in data.clips} == {"val", "test"}
    assert {split_of(clip) for clip in data.extra} == {"train"}
    folds = cross_fit_folds(data.clips, data.vocabulary)
    for fold in (0, 1):  # every fold holds out some cells of every style and of every content
        held = [clip for clip in data.clips if folds[f"{clip.style}|{clip.content}"] == fold]
        assert len({clip.style for clip in held}) >= 14
        assert {"guide", "byebye", "walk"} <= {clip.content for clip in held}


def test_training_loss_falls_and_the_report_is_written(trained: Path) -> None:
    history = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    for fold in (0, 1):
        losses = [row["loss"] for row in history if row["fold"] == fold]
        assert len(losses) == 12 and sum(losses[-2:]) < 0.8 * sum(losses[:2]), losses
    report = json.loads((trained / "report.json").read_text())
    assert report["all_heldout"]["clips"] == report["pool_clips"] == 57
    assert 0.0 <= report["all_heldout"]["style_accuracy"] <= 1.0


def test_round_trip_gives_identical_scores(
    trained: Path, bandai_root: Path, tmp_path: Path
) -> None:
    evaluator = load_evaluator(trained)
    assert evaluator.info["sha256"] == file_sha256(trained / "evaluator.pt")
    assert evaluator.info["train_config"]["steps"] == 120 and set(evaluator.info["trained_on"])
    clip = load_clips(bandai_root, splits=("test",))[0]
    first = evaluator.score(clip.positions, clip.style, clip.content)
    again = load_evaluator(save_evaluator(tmp_path / "copy", evaluator))
    second = again.score(clip.positions, clip.style, clip.content)
    assert first.fold == second.fold == evaluator.fold_for(clip.style, clip.content)
    np.testing.assert_allclose(first.style_probs, second.style_probs, rtol=1e-6)
    np.testing.assert_allclose(first.features, second.features, rtol=1e-5, atol=1e-6)
    assert first.style_probs.sum() == pytest.approx(1.0, abs=1e-5)


def test_a_changed_checkpoint_is_refused(trained: Path, tmp_path: Path) -> None:
    copy = tmp_path / "evaluator"
    copy.mkdir()
    data = bytearray((trained / "evaluator.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "evaluator.pt").write_bytes(bytes(data))
    (copy / "evaluator.pt.sha256").write_text((trained / "evaluator.pt.sha256").read_text())
    with pytest.raises(EvaluatorChecksumError, match="was changed"):
        load_evaluator(copy)
    (copy / "evaluator.pt.sha256").unlink()
    with pytest.raises(EvaluatorChecksumError, match="never frozen"):
        load_evaluator(copy)
    with pytest.raises(EvaluatorError, match="train-evaluator"):
        load_evaluator(tmp_path / "nowhere")


def test_another_format_version_is_refused(trained: Path, tmp_path: Path) -> None:
    payload = torch.load(trained / "evaluator.pt", weights_only=True)
    payload["format"] = 99
    path = tmp_path / "evaluator.pt"
    torch.save(payload, path)
    (tmp_path / "evaluator.pt.sha256").write_text(f"{file_sha256(path)}  evaluator.pt\n")
    with pytest.raises(EvaluatorError, match="format 99"):
        load_evaluator(tmp_path)


def test_short_and_broken_clips_get_clear_errors(trained: Path) -> None:
    evaluator = load_evaluator(trained)
    still = np.zeros((evaluator.window_frames - 1, 19, 3), np.float32)
    with pytest.raises(EvaluatorError, match="shorter than the 48-frame window"):
        evaluator.score(still, "angry", "walk")
    with pytest.raises(EvaluatorError, match="NaN"):
        evaluator.score(np.full((60, 19, 3), np.nan, np.float32), "angry", "walk")
    with pytest.raises(EvaluatorError, match="fps"):
        evaluator.score(np.zeros((60, 19, 3), np.float32), "angry", "walk", fps=25.0)
