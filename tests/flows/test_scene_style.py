"""Scene-style commands, conditioning and flow on real Bandai clips (controlled construction).

Trains a small scene encoder through `stylemotion train-scene-encoder` on the shared tiny
encoder run (tests/models/scene_fixtures.py), evaluates it against the text ablation with a
tiny random text model, builds stylize-time scene vectors from labels and images (a tiny random
CLIP), and checks every refusal the issue lists. Results here are mechanism checks on the
controlled construction, not real-world numbers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from flows.cli import main
from flows.jobs.scene_style_inputs import resolve_scene, scene_style_vector
from models.scene.condition import (
    SceneConditionError,
    load_scene_run,
    scene_vector,
)
from models.scene.encoder import fuse_additive
from storage.shard_reader import ClipFilter, ShardReader
from tests.extract.scene_models import save_tiny_open_clip
from tests.models.scene_fixtures import TINY_SCENE, scene_workspace

FRAME = "frames/mmpose_testdata/coco__000000000785.jpg"


@pytest.fixture(scope="module")
def workspace(bandai_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    paths = scene_workspace(bandai_dir, tmp_path_factory)
    common = ["--data", str(paths["data"]), "--encoders", str(paths["encoders"])]
    sets = [f"--set={item}" for item in TINY_SCENE]
    paths["scene"] = paths["work"] / "scene_additive"
    assert main(["train-scene-encoder", *common, "--out", str(paths["scene"]), *sets]) == 0
    paths["clip"] = save_tiny_open_clip(paths["work"] / "clip")
    paths["scene_clip"] = paths["work"] / "scene_clip"
    clip_args = ["--clip-model", str(paths["clip"]), "--set=head.fusion=concat", "--set=steps=20"]
    args = ["train-scene-encoder", *common, "--out", str(paths["scene_clip"]), *sets, *clip_args]
    assert main(args) == 0
    return paths


def _source(workspace: dict) -> np.ndarray:
    reader = ShardReader(str(workspace["data"]))
    return next(reader.iter_clips(ClipFilter(style="normal"))).positions


def test_evaluate_scene_compares_encoder_and_text(workspace: dict, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    args = ["evaluate-scene", "--run", str(workspace["scene"]), "--out", str(out)]
    args += ["--text-model", str(workspace["text_model"]), "--offline", "--alphas", "0,1,1.5"]
    assert main(args) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["provenance"] == "controlled"
    assert set(report["text_choices"]) == {"office", "street", "park"}
    encoder = {row["alpha"]: row for row in report["scene encoder"]}
    assert encoder[1.5]["prob_with"] > encoder[1.5]["prob_without"] + 0.2
    assert len(report["scene as text"]) == 3
    table = (out / "table.md").read_text()
    assert "controlled data" in table and "| scene as text |" in table
    assert (out / "alpha_sweep.png").stat().st_size > 10_000


def test_scene_vector_fuses_into_the_style_slot(workspace: dict) -> None:
    run = load_scene_run(workspace["scene"])
    style = F.normalize(torch.randn(16), dim=0)
    source = _source(workspace)
    vector = scene_vector(run, source, "office", 0.8, style)
    fused = style + 0.8 * vector  # what StyleCondition(scene=vector, scene_weight=0.8) feeds
    assert vector.shape == (16,) and fused.norm().item() == pytest.approx(1.0, abs=1e-5)
    z_scene = (fused - style) / 0.8
    assert torch.allclose(fuse_additive(style[None], z_scene[None], torch.tensor([0.8]))[0],
                          fused, atol=1e-5)  # fmt: skip
    other = scene_vector(run, source, "street", 0.8, style)
    assert not torch.allclose(vector, other)
    assert torch.count_nonzero(scene_vector(run, source[:20], "park", 0.0, style)) == 0


def test_bad_scene_inputs_get_clear_errors(workspace: dict, tmp_path: Path) -> None:
    run = load_scene_run(workspace["scene"])
    style, source = F.normalize(torch.randn(16), dim=0), _source(workspace)
    with pytest.raises(SceneConditionError, match="unknown scene 'moon'.*office"):
        scene_style_vector(run, source, "moon", 1.0, style)
    with pytest.raises(SceneConditionError, match=r"alpha 2.5 outside \[0, 2.0\]"):
        scene_vector(run, source, "office", 2.5, style)
    with pytest.raises(SceneConditionError, match="takes only scene labels"):
        resolve_scene(str(tmp_path), run)  # an existing path, but a fixed-label run
    with pytest.raises(SceneConditionError, match="trained without scenes"):
        load_scene_run(workspace["encoders"])
    with pytest.raises(SceneConditionError, match="mismatched encoder run"):
        load_scene_run(workspace["scene"], encoder_checksum="0" * 64)
    assert main(["evaluate-scene", "--run", str(workspace["encoders"])]) == 2
    args = ["evaluate-scene", "--run", str(workspace["scene"]), "--alphas", "0,3"]
    assert main(args) == 2


def test_images_give_scene_vectors_and_black_frames_are_refused(
    workspace: dict, shared_data: Path, tmp_path: Path
) -> None:
    run = load_scene_run(workspace["scene_clip"])
    assert run.accepts_embeddings and run.checkpoint.head.config.fusion == "concat"
    style, source = F.normalize(torch.randn(16), dim=0), _source(workspace)
    image = tmp_path / "scene.jpg"
    shutil.copy(shared_data / FRAME, image)
    vector = scene_style_vector(run, source, str(image), 1.0, style)
    assert vector.shape == (16,) and (style + vector).norm().item() == pytest.approx(1, abs=1e-5)
    black = tmp_path / "black.png"
    Image.new("RGB", (320, 240)).save(black)
    with pytest.raises(SceneConditionError, match="no usable scene embedding.*BlackFrame"):
        scene_style_vector(run, source, str(black), 1.0, style)
    with pytest.raises(SceneConditionError, match=r"not \(32,\)"):
        scene_vector(run, source, np.ones(5, np.float32), 1.0, style)
    with pytest.raises(SceneConditionError, match="all-zero"):
        scene_vector(run, source, np.zeros(32, np.float32), 1.0, style)


def test_train_scene_encoder_flow_runs_under_prefect(
    prefect_server: str, workspace: dict, tmp_path: Path
) -> None:
    from flows.scene_style_flows import train_scene_encoder_flow
    from flows.validation import ParameterError
    from models.scene.train import TrainSceneConfig

    config = TrainSceneConfig(
        data_root=str(workspace["data"]), encoder_run=str(workspace["encoders"]),
        out=str(tmp_path / "flow_run"), steps=5, log_every=1,
    )  # fmt: skip
    outcome = train_scene_encoder_flow(config, text_model=str(workspace["text_model"]))
    assert (
        outcome["run_dir"] == str(tmp_path / "flow_run") and "| scene encoder |" in outcome["table"]
    )
    with pytest.raises(ParameterError, match="alpha_max"):
        train_scene_encoder_flow(TrainSceneConfig(**{**config.__dict__, "alpha_max": 3.0}))


TINY_DIFFUSION = ["--set=model.d_model=32", "--set=model.num_layers=1", "--set=batch_size=8"]
TINY_DIFFUSION += ["--set=steps=2", "--set=model.num_heads=2"]


@pytest.fixture(scope="module")
def adaptor(workspace: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny base + adaptor diffusion run on the workspace's encoders."""
    work = tmp_path_factory.mktemp("tiny_diffusion")
    common = ["--data", str(workspace["data"]), "--encoders", str(workspace["encoders"])]
    base, adaptor = work / "base", work / "adaptor"
    assert main(["train-diffusion", *common, "--out", str(base), *TINY_DIFFUSION]) == 0
    stage = ["--stage", "adaptor", "--base", str(base), "--out", str(adaptor)]
    assert main(["train-diffusion", *common, *stage, *TINY_DIFFUSION]) == 0
    return adaptor


def test_stylize_command_fuses_a_scene(workspace: dict, adaptor: Path, tmp_path: Path) -> None:
    common = ["--data", str(workspace["data"]), "--encoders", str(workspace["encoders"])]
    tiny = TINY_DIFFUSION
    tuned = tmp_path / "tuned"
    scene_set = [f"--set=scene_run={workspace['scene']}", "--set=scene_fraction=1.0"]
    stage = ["--stage", "adaptor", "--base", str(adaptor), "--out", str(tuned), *scene_set]
    assert main(["train-diffusion", *common, *stage, *tiny, "--set=cross_style_fraction=1.0"]) == 0
    tuned_metrics = [
        json.loads(line) for line in (tuned / "metrics.jsonl").read_text().splitlines()
    ]
    assert tuned_metrics[-1]["step"] == 2 and "style" in tuned_metrics[-1]
    refused = ["train-diffusion", *common, "--out", str(tmp_path / "x"), *tiny, *scene_set]
    assert main(refused) == 2  # a scene fine-tune needs the adaptor stage
    job = ["stylize", "--run", str(adaptor), "--source", str(workspace["data"]), "--limit", "1"]
    job += ["--source-style", "normal", "--style", "normal", "--steps", "2", "--no-previews"]
    with_scene = [*job, "--scene", "street", "--scene-run", str(workspace["scene"])]
    assert main([*job, "--out", str(tmp_path / "plain")]) == 0
    assert main([*with_scene, "--scene-weight", "1.0", "--out", str(tmp_path / "scene")]) == 0
    plain = next(ShardReader(str(tmp_path / "plain/dataset")).iter_clips(ClipFilter()))
    scened = next(ShardReader(str(tmp_path / "scene/dataset")).iter_clips(ClipFilter()))
    assert "scene%3Dstreet%401.0" in scened.source_uri and "scene" not in plain.source_uri
    assert plain.clip_id != scened.clip_id
    assert main([*with_scene, "--scene-weight", "3", "--out", str(tmp_path / "bad")]) == 2
    assert main([*job, "--scene", "street", "--out", str(tmp_path / "bad2")]) == 2


def test_end_to_end_scene_evaluation_reads_both_outputs(
    workspace: dict, adaptor: Path, tmp_path: Path
) -> None:
    from models.diffusion.stylize import DiffusionStylizer
    from models.evaluation.evaluator import load_evaluator
    from models.evaluation.train_evaluator import TrainEvaluatorConfig, train_evaluator
    from models.scene.stylize_eval import scene_stylization_eval

    train_evaluator(TrainEvaluatorConfig(str(workspace["data"]), str(tmp_path / "ev"), steps=10))
    stylizer = DiffusionStylizer.load(adaptor, steps=2)
    scene_run = load_scene_run(workspace["scene"], encoder_checksum=stylizer.run.encoder_checksum)
    reader = ShardReader(str(workspace["data"]))
    sources = [c for c in reader.iter_clips(ClipFilter(style="normal")) if c.num_frames >= 60][:2]
    report = scene_stylization_eval(
        stylizer, scene_run, load_evaluator(tmp_path / "ev"), sources, "normal", ["street"], 1.0
    )
    assert report["pairs"] == 2 and report["alpha"] == 1.0
    for name in ("scene_style_prob", "content_cosine"):
        assert 0.0 <= report[f"{name}_without"] <= 1.0 or name == "content_cosine"
        assert report[f"{name}_with"] != report[f"{name}_without"]  # the scene changed the output
    assert report["provenance"]
