"""The stylization harness on real held-out Bandai clips: baselines, real data, bad inputs, CLI."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from extract.mocap.ingest import MocapIngestConfig, ingest_mocap
from flows.cli import main
from models.diffusion.stylize import StyleTarget
from models.encoders.windows import load_clips
from models.evaluation.baselines import StyleClipCopyStylizer, baseline_stylizers
from models.evaluation.evaluator import StyleEvaluator, load_evaluator
from models.evaluation.stylization_eval import (
    EvaluationError,
    evaluate_stylizers,
    strength_sweep,
)
from models.evaluation.sweep_plot import plot_strength_sweep
from models.evaluation.train_evaluator import TrainEvaluatorConfig, train_evaluator
from storage.records import MotionClip
from tests.bandai_split import BANDAI_SPLIT

STYLES = ["angry", "happy", "old", "sad", "zorro"]


@pytest.fixture(scope="module")
def bandai_root(bandai_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stylization") / "dataset"
    ingest_mocap(MocapIngestConfig(str(bandai_dir), str(root), **BANDAI_SPLIT))
    return root


@pytest.fixture(scope="module")
def evaluator_dir(bandai_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stylization") / "evaluator"
    train_evaluator(TrainEvaluatorConfig(str(bandai_root), str(out), steps=250, batch_size=48))
    return out


@pytest.fixture(scope="module")
def evaluator(evaluator_dir: Path) -> StyleEvaluator:
    return load_evaluator(evaluator_dir)


@pytest.fixture(scope="module")
def clips(bandai_root: Path) -> dict[str, list[MotionClip]]:
    held_out = load_clips(bandai_root, splits=("test",))
    return {
        "sources": [clip for clip in held_out if clip.style == "normal"],  # walk 002: 31 frames
        "real": [clip for clip in held_out if clip.style != "normal"],
        "pool": load_clips(bandai_root, splits=("train",)),
    }


@pytest.fixture(scope="module")
def report(evaluator: StyleEvaluator, clips: dict) -> dict:
    stylizers = baseline_stylizers(clips["pool"])
    return evaluate_stylizers(stylizers, clips["sources"], STYLES, evaluator, clips["real"])


def _row(report: dict, name: str) -> dict:
    return next(row for row in report["results"] if row["stylizer"] == name)


def test_bad_items_are_recorded_and_the_rest_is_scored(report: dict) -> None:
    reasons = [failure["reason"] for failure in report["failures"]]
    assert any("unknown style label 'zorro'" in reason for reason in reasons)
    assert any("31 frames, shorter than the evaluator's 48-frame window" in r for r in reasons)
    assert report["styles"] == ["angry", "happy", "old", "sad"] and len(report["sources"]) == 2
    assert _row(report, "identity")["items"] == 2 * 4 * 2  # sources x styles x seeds
    json.dumps(report)  # JSON-ready as it is


def test_identity_keeps_content_and_gets_no_style(report: dict) -> None:
    identity, copy = _row(report, "identity"), _row(report, "style_clip_copy")
    assert identity["sra"] <= 0.25
    assert identity["trajectory_error_m"] == 0.0 and identity["key_joint_error_m"] == 0.0
    assert identity["diversity"] == 0.0 and identity["part_leakage"] is None
    assert identity["content_accuracy"] > copy["content_accuracy"]
    assert identity["content_accuracy_among_sources"] > copy["content_accuracy_among_sources"]
    readings = identity["content_readings"]  # what the content head called each source content
    assert sum(sum(counts.values()) for counts in readings.values()) == identity["items"]
    hits = sum(counts.get(source, 0) for source, counts in readings.items())
    assert hits / identity["items"] == pytest.approx(identity["content_accuracy"])


def test_style_clip_copy_gets_style_and_loses_the_trajectory(report: dict) -> None:
    copy, identity = _row(report, "style_clip_copy"), _row(report, "identity")
    assert copy["sra"] >= 0.6 and copy["trajectory_error_m"] > 0.3
    assert copy["diversity"] > 0.0  # another clip or crop per seed
    assert copy["part_leakage"] < 0.3  # per-part targets are spliced onto the source
    assert copy["bone_length_std_m"] > identity["bone_length_std_m"]  # splicing stretches bones


def test_real_data_and_nearest_neighbour_rows(report: dict) -> None:
    real, neighbour = report["real"], _row(report, "nearest_neighbour")
    assert real["items"] == 4 * 2 and 0.0 <= real["sra"] <= 1.0  # guide + byebye of 4 styles
    assert real["fd"] > 0.0 and real["diversity"] > 0.0  # disjoint real clips differ
    assert 0.0 <= real["foot_skate_ratio"] < 0.3 and real["foot_contact_pairs"] > 0
    assert neighbour["diversity"] == 0.0  # retrieval is deterministic
    assert neighbour["key_joint_error_m"] < _row(report, "style_clip_copy")["key_joint_error_m"]


class FlakyStylizer:
    """Fails on 'happy', returns NaN for 'old', the source otherwise."""

    name = "flaky"

    def stylize(
        self, sources: Sequence[MotionClip], targets: Sequence[StyleTarget], strength, seed
    ) -> list[np.ndarray]:
        if any(target.style == "happy" for target in targets):
            raise RuntimeError("happy is broken")
        return [
            np.full_like(s.positions, np.nan) if t.style == "old" else s.positions
            for s, t in zip(sources, targets, strict=True)
        ]


def test_one_bad_item_never_stops_the_batch(evaluator: StyleEvaluator, clips: dict) -> None:
    report = evaluate_stylizers(
        [FlakyStylizer()],
        clips["sources"],
        ["angry", "happy", "old"],
        evaluator,
        clips["real"],
        seeds=(0,),
        part_targets=False,
    )
    failed = [f for f in report["failures"] if f.get("stylizer") == "flaky"]
    assert len(failed) == 4 and report["results"][0]["items"] == 2
    assert {f["reason"] for f in failed} == {
        "RuntimeError: happy is broken",
        "EvaluationError: output holds NaN or inf values",
    }


def test_bad_inputs_stop_with_clear_messages(evaluator: StyleEvaluator, clips: dict) -> None:
    identity = baseline_stylizers(clips["pool"])[:1]
    with pytest.raises(EvaluationError, match="reference set of real clips is empty"):
        evaluate_stylizers(identity, clips["sources"], ["angry"], evaluator, [])
    with pytest.raises(EvaluationError, match="unknown style label 'zorro'"):
        evaluate_stylizers(identity, clips["sources"], ["zorro"], evaluator, clips["real"])
    short = [clip for clip in clips["sources"] if clip.num_frames < 48]
    with pytest.raises(EvaluationError, match="0 usable sources"):
        evaluate_stylizers(identity, short, ["angry"], evaluator, clips["real"])
    with pytest.raises(EvaluationError, match="no pool clip of style"):
        StyleClipCopyStylizer(clips["pool"]).donor(clips["sources"][0], "zorro", 0)


class BlendStylizer(StyleClipCopyStylizer):
    """Source + strength x (style clip - source): a toy strength-sensitive stylizer."""

    name = "blend"
    uses_strength = True

    def stylize(self, sources, targets, strength, seed) -> list[np.ndarray]:
        copies = super().stylize(sources, targets, strength, seed)
        return [
            s.positions + strength * (c - s.positions) for s, c in zip(sources, copies, strict=True)
        ]


def test_strength_sweep_and_plot(evaluator: StyleEvaluator, clips: dict, tmp_path: Path) -> None:
    stylizers = [BlendStylizer(clips["pool"]), baseline_stylizers(clips["pool"])[0]]
    points = strength_sweep(
        stylizers,
        clips["sources"],
        ["angry", "sad"],
        evaluator,
        clips["real"],
        strengths=(0.25, 1.0),
        seeds=(0,),
    )
    blend = [p for p in points if p["stylizer"] == "blend"]
    assert [p["strength"] for p in blend] == [0.25, 1.0]
    assert blend[0]["content_error_m"] < blend[1]["content_error_m"]
    assert {p["stylizer"] for p in points} == {"blend", "identity", "real"}
    path = plot_strength_sweep(points, tmp_path / "sweep.png")
    assert path.stat().st_size > 10_000


def test_cli_evaluates_baselines_and_refuses_a_missing_run(
    bandai_root: Path, evaluator_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    base = [
        "evaluate",
        "--data",
        str(bandai_root),
        "--evaluator",
        str(evaluator_dir),
        "--styles",
        "angry,sad",
        "--seeds",
        "0",
        "--no-parts",
    ]
    plot = tmp_path / "sweep.png"
    assert main([*base, "--baselines-only", "--json", "--plot", str(plot)]) == 0
    report = json.loads(capsys.readouterr().out)
    names = [row["stylizer"] for row in report["results"]]
    assert names == ["identity", "style_clip_copy", "nearest_neighbour"] and plot.is_file()
    assert main([*base, "--run", str(tmp_path / "run")]) == 2
    assert "run: no such file or directory (--run)" in capsys.readouterr().err
    (tmp_path / "run").mkdir()
    assert main([*base, "--run", str(tmp_path / "run")]) == 2
    assert "is it a diffusion run" in capsys.readouterr().err
    assert main([*base[:3], "--evaluator", str(tmp_path / "none")]) == 2
    assert "train-evaluator" in capsys.readouterr().err
