"""The scene labeller on the real still frames, with small random models of the real
architectures loaded through the user-facing loading code; and that code's error messages."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from extract.scene_labels.caption import load_caption_model
from extract.scene_labels.clip_model import load_clip_scene_model
from extract.scene_labels.inputs import ClipKeyframes
from extract.scene_labels.keyframes import encode_jpeg, frame_problem, hide_person
from extract.scene_labels.label_config import SceneLabelConfig, resolve_scene_config
from extract.scene_labels.labeller import load_scene_labeller
from extract.scene_labels.model_loading import SceneModelError
from storage.scene_records import UNKNOWN_SCENE
from tests.extract.scene_models import build_scene_models

NUM_FRAMES = 10


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_scene_models(tmp_path_factory.mktemp("scene-models"))


@pytest.fixture(scope="module")
def frames(shared_data: Path) -> list[tuple[str, bytes]]:
    paths = sorted((shared_data / "frames").rglob("*.jpg"))[:NUM_FRAMES]
    assert len(paths) == NUM_FRAMES, "the sample frames are missing"
    result = []
    for path in paths:
        image = Image.open(path).convert("RGB")
        image.thumbnail((384, 384))
        result.append((path.stem, encode_jpeg(image)))
    return result


def _config(models: dict[str, Path], **changes) -> SceneLabelConfig:
    base = SceneLabelConfig(
        root="unused",
        clip_model=f"local-dir:{models['clip']}",
        caption_model=str(models["caption"]),
        caption_max_new_tokens=6,
        unknown_threshold=0.0,
    )
    return resolve_scene_config(replace(base, **changes))


def _clips(frames: list[tuple[str, bytes]], per_clip: int = 1) -> list[ClipKeyframes]:
    return [
        ClipKeyframes(
            name,
            f"file:///{name}.jpg",
            "frames",
            tuple(float(i) for i in range(per_clip)),
            (data,) * per_clip,
            (None,) * per_clip,
            "video",
        )  # fmt: skip
        for name, data in frames
    ]


def test_labels_real_frames_with_both_backends(models, frames) -> None:
    labeller = load_scene_labeller(_config(models))
    labels, failures = labeller.label_clips(_clips(frames))
    assert failures == [] and len(labels) == NUM_FRAMES
    vocabulary = labeller.config.scenes
    for label in labels:
        assert label.embedding.shape == (32,) and label.probabilities.shape == (len(vocabulary),)
        assert abs(float(np.linalg.norm(label.embedding)) - 1.0) < 1e-5
        assert label.label == vocabulary[int(np.argmax(label.probabilities))]
        assert label.caption_model_id == str(models["caption"]) and label.caption is not None
        assert label.caption_label is None or label.caption_label in vocabulary
    embeddings = np.stack([label.embedding for label in labels])
    assert np.linalg.matrix_rank(embeddings) > 1, "different photos must embed differently"


def test_labelling_is_deterministic_and_identical_frames_embed_identically(models, frames) -> None:
    first, _ = load_scene_labeller(_config(models)).label_clips(_clips(frames[:3], per_clip=3))
    clip = load_clip_scene_model(f"local-dir:{models['clip']}", offline=True)  # a fresh load
    one_frame, _ = load_scene_labeller(_config(models, batch_size=1)).label_clips(
        _clips(frames[:3])
    )
    for a, b in zip(first, one_frame, strict=True):
        # three copies of a frame average to that frame's own embedding, whatever the batch
        np.testing.assert_allclose(a.embedding, b.embedding, atol=1e-5)
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-5)
    fresh = clip.encode_images([Image.open(io.BytesIO(frames[0][1]))])
    np.testing.assert_allclose(fresh[0], first[0].embedding, atol=1e-5)
    assert first[0].caption == one_frame[0].caption  # greedy decoding


def test_threshold_turns_low_confidence_into_unknown(models, frames) -> None:
    labels, _ = load_scene_labeller(_config(models)).label_clips(_clips(frames))
    top = np.array([label.confidence for label in labels])
    threshold = float(np.median(top))
    strict, _ = load_scene_labeller(_config(models, unknown_threshold=threshold)).label_clips(
        _clips(frames)
    )
    for label, confidence in zip(strict, top, strict=True):
        assert (label.label == UNKNOWN_SCENE) == (confidence < threshold)
        assert label.confidence == pytest.approx(confidence)
    assert UNKNOWN_SCENE not in {label.label for label in labels}


def test_either_backend_can_be_switched_off(models, frames) -> None:
    clip_only = load_scene_labeller(_config(models, captions=False))
    labels, _ = clip_only.label_clips(_clips(frames[:2]))
    assert labels[0].caption is None and labels[0].label is not None
    caption_only = load_scene_labeller(_config(models, zero_shot=False))
    labels, _ = caption_only.label_clips(_clips(frames[:2]))
    assert labels[0].label is None and labels[0].embedding is None and labels[0].caption
    assert len({clip_only.labeller_id, caption_only.labeller_id}) == 2


def test_black_blank_and_tiny_frames_are_recorded_skips(models, frames) -> None:
    real = Image.open(io.BytesIO(frames[0][1]))
    black = Image.fromarray((np.asarray(real) * 0.02).astype(np.uint8))
    blank = Image.new("RGB", real.size, (120, 130, 140))
    tiny = real.resize((24, 16))
    assert [frame_problem(i) for i in (real, black, blank, tiny)] == [
        None, "BlackFrame", "BlankFrame", "TinyFrame",
    ]  # fmt: skip
    bad = [
        ("black", encode_jpeg(black)),
        ("blank", encode_jpeg(blank)),
        ("tiny", encode_jpeg(tiny)),
    ]
    mixed = ClipKeyframes(
        "mixed", "file:///mixed", "frames", (0.0, 1.0), (frames[0][1], bad[0][1]), (None, None),
        "video",
    )  # fmt: skip
    labels, failures = load_scene_labeller(_config(models)).label_clips([*_clips(bad), mixed])
    assert [failure.error_kind for failure in failures] == ["BlackFrame", "BlankFrame", "TinyFrame"]
    assert all(f.stage == "scene" and "no usable keyframe" in f.message for f in failures)
    assert [label.clip_id for label in labels] == ["mixed"]  # the good keyframe carries it
    assert len(labels[0].keyframes) == 2  # both stored, as decoded


def test_hiding_the_person_changes_only_the_box(frames) -> None:
    image = Image.open(io.BytesIO(frames[1][1]))
    width, height = image.size
    rows = slice(int(0.2 * height), int(np.ceil(0.9 * height)))
    columns = slice(int(0.25 * width), int(np.ceil(0.5 * width)))
    for mode in ("blur", "mask"):
        hidden = np.asarray(hide_person(image, (0.25, 0.2, 0.5, 0.9), mode), np.int16)
        changed = np.abs(hidden - np.asarray(image, np.int16)).sum(axis=2) > 0  # (H, W)
        assert changed[rows, columns].mean() > 0.5, mode
        assert changed.sum() == changed[rows, columns].sum(), f"{mode} leaked outside the box"
    assert hide_person(image, None, "mask") is image


def test_loading_errors_name_the_setting(models, tmp_path: Path) -> None:
    with pytest.raises(SceneModelError, match="not an open_clip model.*caption model.*--model"):
        load_clip_scene_model(f"local-dir:{models['caption']}", offline=True)
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    (no_weights / "open_clip_config.json").write_text(
        (models["clip"] / "open_clip_config.json").read_text()
    )
    with pytest.raises(SceneModelError, match="no weights in .*STYLEMOTION_SCENE_MODEL"):
        load_clip_scene_model(f"local-dir:{no_weights}", offline=True)
    with pytest.raises(SceneModelError, match="neither an existing directory"):
        load_clip_scene_model("/nowhere/clip", offline=True)
    with pytest.raises(SceneModelError, match="not found in the local Hugging Face cache"):
        load_clip_scene_model("hf-hub:nobody/no-such-clip", offline=True)
    with pytest.raises(SceneModelError, match="STYLEMOTION_CAPTION_MODEL"):
        load_caption_model(str(models["clip"]), offline=True)  # an open_clip dir
    with pytest.raises(SceneModelError, match="no transformers model config"):
        load_caption_model("nobody/no-such-vlm", offline=True)


def test_a_transformers_clip_is_not_a_captioner(tmp_path: Path) -> None:
    from transformers import CLIPConfig, CLIPModel

    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1}
    config = CLIPConfig(
        text_config={**small, "num_attention_heads": 2, "vocab_size": 99},
        vision_config={**small, "num_attention_heads": 2, "image_size": 32, "patch_size": 16},
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(tmp_path / "hf_clip")
    with pytest.raises(SceneModelError, match="a 'clip' model, not an image-text-to-text"):
        load_caption_model(str(tmp_path / "hf_clip"), offline=True)
