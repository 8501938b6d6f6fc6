"""The scene encoder: losses on hand-checked cases, fusion math, shapes, checkpoints, and
training on the controlled construction over real Bandai clips (loss falls, shift appears)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.encoders.run import load_encoder_run
from models.scene.data import (
    CONTROLLED,
    SceneDataError,
    associated_styles,
    build_controlled_scene_windows,
    fixed_label_embeddings,
)
from models.scene.encoder import (
    SceneCheckpoint,
    SceneCheckpointError,
    SceneHead,
    SceneHeadConfig,
    fuse_additive,
    load_scene_checkpoint,
    pool_backbone,
    save_scene_checkpoint,
)
from models.scene.evaluate import encoder_predictor, scene_shift
from models.scene.losses import SceneLossConfig, scene_losses, scene_style_nce
from models.scene.train import TrainSceneConfig, train_scene_encoder
from tests.models.scene_fixtures import TINY_SCENE, scene_workspace


def _head(fusion: str = "additive", use_motion: bool = True) -> SceneHead:
    config = SceneHeadConfig(d_model=8, style_dim=4, embedding_dim=5, num_scenes=3, hidden=16,
                             fusion=fusion, use_motion=use_motion)  # fmt: skip
    return SceneHead(config)


def test_scene_style_nce_matches_hand_computed_values() -> None:
    e = torch.eye(2)
    # distinct labels: each anchor's only positive is its own target, logits [[1, 0], [0, 1]]
    assert scene_style_nce(e, e, torch.tensor([0, 1]), 1.0).item() == pytest.approx(
        math.log(1 + math.exp(-1))
    )
    # one label: both targets positive, -(1/2)(log p_same + log p_other) = log(e + 1) - 1/2
    assert scene_style_nce(e, e, torch.tensor([0, 0]), 1.0).item() == pytest.approx(
        math.log(math.e + 1) - 0.5
    )
    # pointing the fused vector away from its target costs more
    away = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert scene_style_nce(away, e, torch.tensor([0, 1]), 1.0) > scene_style_nce(
        e, e, torch.tensor([0, 1]), 1.0
    )


def test_fusion_math_additive_and_concat_start_equal() -> None:
    z_s, z_scene = torch.tensor([[1.0, 0, 0, 0]]), torch.tensor([[0.0, 1, 0, 0]])
    fused = fuse_additive(z_s, z_scene, torch.tensor([1.0]))
    assert torch.allclose(fused, torch.tensor([[1, 1, 0, 0]]) / math.sqrt(2))
    assert torch.allclose(fuse_additive(z_s, z_scene, torch.tensor([0.0])), z_s)
    assert torch.allclose(fuse_additive(z_s, z_scene, torch.tensor([3.0])),
                          F.normalize(torch.tensor([[1.0, 3, 0, 0]]), dim=-1))  # fmt: skip
    z_s, z_scene = F.normalize(torch.randn(6, 4), dim=-1), F.normalize(torch.randn(6, 4), dim=-1)
    alpha = torch.rand(6) * 2
    concat = _head("concat").fuse(z_s, z_scene, alpha)  # M = [I | I] at init
    assert torch.allclose(concat, fuse_additive(z_s, z_scene, alpha), atol=1e-6)


def test_scene_head_shapes_pooling_and_losses() -> None:
    features = torch.randn(3, 10, 6, 8)  # (B, W, 6, D)
    pooled = pool_backbone(features)
    assert pooled.shape == (3, 6 * 2 * 8)
    assert torch.allclose(pooled.view(3, 6, 16)[:, :, :8], features.mean(1), atol=1e-6)
    head = _head()
    z_scene = head(features, torch.randn(3, 5))
    assert z_scene.shape == (3, 4) and torch.allclose(z_scene.norm(dim=-1), torch.ones(3))
    assert head.classify(z_scene).shape == (3, 3)
    with pytest.raises(ValueError, match="embedding must have shape"):
        head(features, torch.randn(3, 7))
    no_motion = _head(use_motion=False)  # the scene input alone decides z_scene
    embedding = torch.randn(1, 5).expand(3, -1)
    assert torch.allclose(no_motion(features, embedding)[0], no_motion(features, embedding)[2])
    losses = scene_losses(
        F.normalize(torch.randn(3, 4), dim=-1), F.normalize(torch.randn(3, 4), dim=-1),
        torch.tensor([0, 1, 1]), head.classify(z_scene), z_scene, torch.randn(3, 6),
        SceneLossConfig(scene_ce_enabled=False),
    )  # fmt: skip
    assert set(losses) == {"scene_style_nce", "orthogonality", "total"}
    losses["total"].backward()


def test_checkpoint_round_trip_and_mismatched_encoder(tmp_path: Path) -> None:
    head = _head("concat")
    checkpoint = SceneCheckpoint(
        head=head, scenes=("a", "b", "c"), embeddings=torch.randn(3, 5), embedding_source="x",
        associations={"a": ("happy",)}, provenance=CONTROLLED, encoder_run="/r",
        encoder_checksum="f" * 64, step=7,
    )  # fmt: skip
    save_scene_checkpoint(tmp_path / "scene.pt", checkpoint)
    back = load_scene_checkpoint(tmp_path / "scene.pt", "f" * 64)
    assert back.head.config == head.config and back.step == 7 and back.scenes == ("a", "b", "c")
    for name, value in head.state_dict().items():
        assert torch.equal(value, back.head.state_dict()[name]), name
    with pytest.raises(SceneCheckpointError, match="mismatched encoder run"):
        load_scene_checkpoint(tmp_path / "scene.pt", "0" * 64)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SceneCheckpointError, match="not a readable scene checkpoint"):
        load_scene_checkpoint(tmp_path / "junk.pt")


def test_fixed_label_embeddings_and_associations() -> None:
    first = fixed_label_embeddings(("stage", "office"))
    again = fixed_label_embeddings(("office", "stage"))
    assert np.array_equal(first.vector("stage"), again.vector("stage"))
    assert np.allclose(np.linalg.norm(first.vectors, axis=1), 1.0)
    with pytest.raises(SceneDataError, match="unknown scene 'moon'"):
        first.vector("moon")
    # park: 3 happy / 1 sad vs overall 3/6 and 3/6 -> lift happy 1.5, sad 0.5
    pairs = [("park", "happy")] * 3 + [("park", "sad")] + [("office", "sad")] * 2
    assert associated_styles(pairs) == {"park": ("happy",), "office": ("sad",)}


@pytest.fixture(scope="module")
def workspace(bandai_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return scene_workspace(bandai_dir, tmp_path_factory)


def test_training_on_controlled_construction_lowers_loss_and_shifts_style(
    workspace: dict, tmp_path: Path
) -> None:
    encoder = load_encoder_run(workspace["encoders"])
    labels = fixed_label_embeddings(("stage", "office", "street", "park", "gym", "home interior"))
    data = build_controlled_scene_windows(encoder, str(workspace["data"]), labels)
    assert data.provenance == "controlled" and set(data.split) >= {"train", "test"}
    assert {data.scenes[int(s)] for s in data.scene[data.scene >= 0]} == {
        "office",
        "street",
        "park",
    }
    sets = dict(item.split("=") for item in TINY_SCENE)
    config = TrainSceneConfig(
        data_root=str(workspace["data"]), encoder_run=str(workspace["encoders"]),
        out=str(tmp_path / "scene"), **{k: int(v) for k, v in sets.items()},
    )  # fmt: skip
    run_dir = train_scene_encoder(config, labels)
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    start = np.mean([m["scene_style_nce"] for m in metrics[:3]])
    end = np.mean([m["scene_style_nce"] for m in metrics[-3:]])
    floor = math.log(config.windows_per_scene)  # every same-scene target equally likely
    assert end - floor < 0.75 * (start - floor), (start, end)
    assert json.loads((run_dir / "run.json").read_text())["provenance"] == "controlled"
    checkpoint = load_scene_checkpoint(run_dir / "scene.pt", encoder.checksum)
    predictor = encoder_predictor(checkpoint.head, data, checkpoint.embeddings)
    rows = {row["alpha"]: row for row in scene_shift(data, predictor, (0.0, 1.5))}
    assert rows[0.0]["shift"] == 0.0 and rows[0.0]["provenance"] == "controlled"
    assert rows[1.5]["prob_with"] > rows[1.5]["prob_without"] + 0.2, rows
    assert train_scene_encoder(config, labels) == run_dir  # a finished run returns at once
