"""Shared, built-once inputs of the scene tests: a real Bandai subset, a tiny encoder run and a
tiny random text model, all under the session's pytest base temp (so the model and flow test
modules share them without a conftest).

The subset is the real Bandai Namco data (4 styles x 5 contents, as tests/flows/test_stylize.py
uses); the controlled scene construction of `models.scene.data` then declares normal/tired
clips "office", angry "street" and happy "park". The text model is a randomly initialised BERT
with a small WordPiece vocabulary, saved with `save_pretrained` and loaded back through
`extract.scene_labels.text_model` exactly as a downloaded model is.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.bandai_split import BANDAI_SPLIT

STYLES = ("angry", "happy", "normal", "tired")
CONTENTS = ("walk", "run", "bow", "guide", "byebye")
TINY_ENCODER = [
    "model.d_model=32", "model.num_layers=1", "model.num_heads=2", "model.content_dim=16",
    "model.style_dim=16", "styles_per_batch=4", "windows_per_style=4", "warmup_steps=2",
    "coarse_refresh_every=5", "coarse_groups=2", "steps=8", "log_every=1",
]  # fmt: skip
TINY_DENOISER = [
    "model.d_model=32", "model.num_layers=2", "model.num_heads=2", "model.lora_rank=4",
    "batch_size=16", "warmup_steps=2", "log_every=1", "learning_rate=0.003",
]  # fmt: skip
TINY_SCENE = ["steps=120", "scenes_per_batch=3", "windows_per_scene=6", "log_every=5"]
TEXT_WORDS = (
    *("a", "an", "person", "moving", "in", "the", "way", "and", "with", "like", "of"),
    *("office", "street", "park", "stage", "gym", "home", "interior", "angry", "happy"),
    *("normal", "tired", "proud", "sad", "old", "slowly", "walk", "along", "cheerful"),
)


def _small_bandai(bandai_dir: Path, work: Path) -> Path:
    from extract.mocap.ingest import MocapIngestConfig, ingest_mocap

    source = work / "bandai"
    source.mkdir(parents=True)
    shutil.copytree(bandai_dir / "_meta", source / "_meta")
    for path in bandai_dir.glob("dataset-1_*"):
        _, content, style, _ = path.stem.split("_")
        if style in STYLES and content in CONTENTS:
            shutil.copy(path, source / path.name)
    root = work / "dataset"
    ingest_mocap(MocapIngestConfig(str(source), str(root), **BANDAI_SPLIT))
    return root


def save_tiny_text_model(directory: Path, seed: int = 0) -> Path:
    """A random BERT text encoder + tokenizer saved like a downloaded model."""
    from extract.scene_labels.torchvision_compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *TEXT_WORDS]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(words) + "\n")
    tokenizer = BertTokenizer(str(directory / "vocab.txt"))
    config = BertConfig(
        vocab_size=len(words), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(seed)
    BertModel(config).eval().save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def scene_workspace(bandai_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """{"data", "encoders", "text_model", "work"}: built on first use in this session."""
    from flows.cli import main

    work = tmp_path_factory.getbasetemp() / "scene_workspace"
    paths = {
        "data": work / "dataset", "encoders": work / "encoders",
        "text_model": work / "text_model", "work": work,
    }  # fmt: skip
    if (paths["encoders"] / "last.pt").is_file() and (paths["text_model"] / "vocab.txt").is_file():
        return paths
    shutil.rmtree(work, ignore_errors=True)
    _small_bandai(bandai_dir, work)
    args = ["train-encoders", "--data", str(paths["data"]), "--out", str(paths["encoders"])]
    assert main([*args, *(f"--set={item}" for item in TINY_ENCODER)]) == 0
    save_tiny_text_model(paths["text_model"])
    return paths
