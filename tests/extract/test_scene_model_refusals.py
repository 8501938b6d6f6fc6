"""A damaged, foreign or code-carrying open_clip weights file is one typed line, never a traceback.

A tiny open_clip model of the real architecture is saved as users download it (a local
directory, and the same files in a Hugging Face cache for `hf-hub:`); each case then damages
its weights: the safetensors file truncated, random, empty or replaced by a torch file, or the
weights kept as `open_clip_pytorch_model.bin` (a torch pickle) truncated, random, empty, a
plain tensor, or a pickle whose `__reduce__` calls `os.mkdir(marker)`. `load_clip_scene_model`
(what `label-scenes --model` runs) must raise `SceneModelError`, a `UserInputError`, naming the
file and the setting on one line without PyTorch's advice to load with `weights_only=False`,
and the marker must not exist. The intact .bin, zip or legacy, still loads. A transformers
directory (a tiny BLIP captioner) goes through the same check, `check_weights_dir`.
"""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from extract.scene_labels.clip_model import load_clip_scene_model
from extract.scene_labels.model_loading import (
    CAPTION_SETTING,
    CLIP_SETTING,
    SceneModelError,
    check_weights_dir,
)
from storage.errors import UserInputError
from tests.extract.scene_models import save_tiny_blip_captioner, save_tiny_open_clip

SAFETENSORS = "open_clip_model.safetensors"
BIN = "open_clip_pytorch_model.bin"
CODE = "refused: the file contains Python objects that are not plain weights"


class MkdirOnLoad:
    """What an attacker pickles: unpickling it calls `os.mkdir(marker)` (harmless, visible)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return (os.mkdir, (self.marker,))


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_open_clip(tmp_path_factory.mktemp("clip") / "clip")


def _state_dict(directory: Path) -> dict[str, Any]:
    from safetensors.torch import load

    return load((directory / SAFETENSORS).read_bytes())  # in memory: the file is rewritten next


def _as_bin(directory: Path, payload: object, legacy: bool = False) -> Path:
    """Replace the safetensors weights by a torch pickle of `payload`."""
    import torch

    (directory / SAFETENSORS).unlink()
    torch.save(payload, directory / BIN, _use_new_zipfile_serialization=not legacy)
    return directory / BIN


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _random(path: Path) -> Path:
    path.write_bytes(np.random.default_rng(7).bytes(4096))
    return path


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _torch_named_safetensors(directory: Path, marker: Path) -> Path:
    import torch

    torch.save(_state_dict(directory), directory / SAFETENSORS)
    return directory / SAFETENSORS


def _raw_pickle(directory: Path, marker: Path) -> Path:
    path = _as_bin(directory, {})
    path.write_bytes(pickle.dumps(MkdirOnLoad(marker), protocol=2))
    return path


def _plain_tensor(directory: Path, marker: Path) -> Path:
    import torch

    return _as_bin(directory, torch.zeros(3))


DAMAGES: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "safetensors-truncated": (
        lambda d, m: _truncate(d / SAFETENSORS),
        "damaged (truncated or not a safetensors file)",
    ),
    "safetensors-random": (
        lambda d, m: _random(d / SAFETENSORS),
        "damaged (truncated or not a safetensors file)",
    ),
    "safetensors-empty": (lambda d, m: _empty(d / SAFETENSORS), "the file is empty"),
    "safetensors-is-a-torch-file": (
        _torch_named_safetensors,
        "damaged (truncated or not a safetensors file)",
    ),
    "bin-truncated": (
        lambda d, m: _truncate(_as_bin(d, _state_dict(d))),
        "damaged (truncated or not a torch file)",
    ),
    "bin-random": (lambda d, m: _random(_as_bin(d, {})), "damaged (truncated or not a torch file)"),
    "bin-empty": (lambda d, m: _empty(_as_bin(d, {})), "the file is empty"),
    "bin-malicious-zip": (lambda d, m: _as_bin(d, MkdirOnLoad(m)), f"{CODE} (posix.mkdir"),
    "bin-malicious-legacy": (lambda d, m: _as_bin(d, MkdirOnLoad(m), True), f"{CODE} (posix.mkdir"),
    "bin-malicious-in-real-weights": (
        lambda d, m: _as_bin(d, {**_state_dict(d), "hook": MkdirOnLoad(m)}),
        f"{CODE} (posix.mkdir",
    ),
    "bin-malicious-raw-pickle": (_raw_pickle, f"{CODE} (posix.mkdir"),
    "bin-plain-tensor": (_plain_tensor, "not a weights file (a Tensor, not a dict of tensors)"),
}


def _assert_one_typed_line(
    error: BaseException, weights: Path, expected: str, setting: str = CLIP_SETTING
) -> None:
    message = str(error)
    assert isinstance(error, SceneModelError) and isinstance(error, UserInputError)
    assert f"{weights}: " in message and setting in message, message
    assert expected in message, message
    assert "\n" not in message
    shown, current = [], error
    while current is not None:  # what a traceback of `error` would print
        shown.append(str(current))
        cause = current.__cause__
        current = cause if cause or current.__suppress_context__ else current.__context__
    assert not any("weights_only" in text for text in shown), shown


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_open_clip_weights_are_refused_in_one_line(
    clip_dir: Path, damage: str, tmp_path: Path
) -> None:
    directory = shutil.copytree(clip_dir, tmp_path / "clip")
    marker = tmp_path / "payload-ran"
    write, expected = DAMAGES[damage]
    weights = write(directory, marker)
    with pytest.raises(SceneModelError) as caught:
        load_clip_scene_model(f"local-dir:{directory}", offline=True, device="cpu")
    _assert_one_typed_line(caught.value, weights, expected)
    assert not marker.exists(), "the pickled payload ran"


def test_the_malicious_payload_is_live(tmp_path: Path) -> None:
    # The control: a plain unpickle runs it, so "no marker" above means "refused".
    pickle.loads(pickle.dumps(MkdirOnLoad(tmp_path / "ran")))
    assert (tmp_path / "ran").is_dir()


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_intact_bin_weights_still_load(clip_dir: Path, legacy: bool, tmp_path: Path) -> None:
    directory = shutil.copytree(clip_dir, tmp_path / "clip")
    _as_bin(directory, _state_dict(directory), legacy)
    model = load_clip_scene_model(f"local-dir:{directory}", offline=True, device="cpu")
    assert model.encode_texts(["a person walking"]).shape == (1, 32)


def test_a_malicious_bin_in_the_hub_cache_is_refused(
    clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    snapshot = cache / "models--someone--clip" / "snapshots" / ("0" * 40)
    shutil.copytree(clip_dir, snapshot)
    (cache / "models--someone--clip" / "refs").mkdir()
    (cache / "models--someone--clip" / "refs" / "main").write_text("0" * 40)
    marker = tmp_path / "payload-ran"
    weights = _as_bin(snapshot, {**_state_dict(snapshot), "hook": MkdirOnLoad(marker)})
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    with pytest.raises(SceneModelError) as caught:
        load_clip_scene_model("hf-hub:someone/clip", offline=True, device="cpu")
    _assert_one_typed_line(caught.value, weights, f"{CODE} (posix.mkdir")
    assert not marker.exists(), "the pickled payload ran"


def test_transformers_weights_are_checked_the_same_way(tmp_path: Path) -> None:
    # `check_weights_dir` is what a transformers loader calls before `from_pretrained`.
    import torch

    directory = save_tiny_blip_captioner(tmp_path / "caption")
    marker = tmp_path / "payload-ran"
    torch.save(MkdirOnLoad(marker), directory / "training_args.bin")  # not weights: not loaded
    check_weights_dir(directory, "caption model 'x'", CAPTION_SETTING)  # intact: no error
    _truncate(directory / "model.safetensors")
    with pytest.raises(SceneModelError) as caught:
        check_weights_dir(directory, "caption model 'x'", CAPTION_SETTING)
    expected = "damaged (truncated or not a safetensors file)"
    _assert_one_typed_line(caught.value, directory / "model.safetensors", expected, CAPTION_SETTING)
    (directory / "model.safetensors").unlink()
    torch.save({"hook": MkdirOnLoad(marker)}, directory / "pytorch_model.bin")
    with pytest.raises(SceneModelError) as caught:
        check_weights_dir(directory, "caption model 'x'", CAPTION_SETTING)
    weights = directory / "pytorch_model.bin"
    _assert_one_typed_line(caught.value, weights, f"{CODE} (posix.mkdir", CAPTION_SETTING)
    assert not marker.exists(), "the pickled payload ran"
