"""The scene-as-text ablation: nearest/soft style choice on hand cases, the fused condition,
and the text model loaded by setting (a tiny random BERT saved like a download; offline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from extract.scene_labels.model_loading import SceneModelError
from extract.scene_labels.text_model import TEXT_MODEL_ENV, load_text_embedder
from models.diffusion.stylize import StyleCondition
from models.scene.text import (
    SceneTextError,
    scene_description,
    style_description,
    text_scene_condition,
    text_scene_styles,
)
from tests.models.scene_fixtures import save_tiny_text_model

SCENES = ("stage", "office")
STYLES = ("proud", "tired", "normal")
PROTOTYPES = torch.eye(3, 4)  # style i -> unit vector e_i


def _mapping(mode: str = "nearest"):
    scene_text = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    style_text = np.array([[0.9, 0.1], [0.0, 1.0], [0.6, 0.8]], np.float32)
    return text_scene_styles(scene_text, style_text, PROTOTYPES, SCENES, STYLES, mode)


def test_nearest_style_prototype_per_scene() -> None:
    mapping = _mapping()
    # stage: cos to proud 0.99, to normal 0.6 -> proud; office: tired 1.0 > normal 0.8
    assert mapping.chosen == ("proud", "tired")
    assert torch.allclose(mapping.vector("stage"), PROTOTYPES[0])
    assert torch.allclose(mapping.vector("office"), PROTOTYPES[1])
    soft = _mapping("soft")  # a softmax mix: mostly the nearest, a little of the others
    assert soft.chosen == mapping.chosen
    assert soft.z_text[0, 0] > soft.z_text[0, 2] > 0 and soft.z_text.norm(dim=1).allclose(
        torch.ones(2)
    )
    with pytest.raises(SceneTextError, match="unknown scene 'moon'"):
        mapping.vector("moon")
    with pytest.raises(SceneTextError, match="mode must be one of"):
        _mapping("prompt")


def test_text_condition_feeds_the_fused_vector_through_the_scene_slot() -> None:
    style = F.normalize(torch.tensor([0.0, 0.0, 1.0, 1.0]), dim=0)
    base = StyleCondition(style, torch.zeros(5, 4), "label:normal")
    condition = text_scene_condition(_mapping(), "stage", base, alpha=0.5)
    fused = condition.vectors()[0]
    expected = F.normalize(style + 0.5 * PROTOTYPES[0], dim=0)
    assert torch.allclose(fused, expected, atol=1e-6) and fused.norm().item() == pytest.approx(1)
    assert "scene-text:stage->proud" in condition.description
    zero = text_scene_condition(_mapping(), "stage", base, alpha=0.0)
    assert torch.allclose(zero.vectors()[0], style)


def test_descriptions_name_the_style_and_scene() -> None:
    assert "proud" in style_description("proud") and "zany" in style_description("zany")
    assert scene_description("office").endswith("office")


def test_text_model_loads_by_setting_offline(tmp_path: Path, monkeypatch) -> None:
    directory = save_tiny_text_model(tmp_path / "text")
    monkeypatch.setenv(TEXT_MODEL_ENV, str(directory))
    embedder = load_text_embedder(None, offline=True, device="cpu")
    vectors = embedder.encode(["a person moving in a park", "an angry person", "a park"])
    assert vectors.shape == (3, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    again = load_text_embedder(f"local-dir:{directory}", offline=True, device="cpu")
    assert np.allclose(again.encode(["an angry person"])[0], vectors[1], atol=1e-6)
    assert embedder.version == again.version and len(embedder.version) == 12


def test_missing_text_model_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(TEXT_MODEL_ENV, raising=False)
    with pytest.raises(SceneModelError, match="no text model set"):
        load_text_embedder(None)
    with pytest.raises(SceneModelError, match="could not be loaded in the local cache"):
        load_text_embedder("some-org/not-downloaded-model", offline=True)
    with pytest.raises(SceneModelError, match="is not a directory"):
        load_text_embedder(f"local-dir:{tmp_path / 'nowhere'}")
