"""Every checkpoint loader refuses a damaged, foreign or code-carrying file in one typed line.

Each loader (encoder run, frozen evaluator, diffusion run, motion VAE, scene head) writes a real
tiny checkpoint of its own kind (milliseconds to build), which each case then damages:
truncated, random bytes, empty, a pickle whose `__reduce__` calls `os.mkdir(marker)` (in a zip
and a legacy torch file, a raw pickle, and nested inside the real payload), a pickled dataclass
(Python objects, not weights), another kind of checkpoint, a plain tensor and a dict without a
kind. The error must be the loader's own class, a `UserInputError` (the CLI prints it as one
line), name the file on one line, never repeat PyTorch's advice to load with
`weights_only=False` (not in the message, not in the chain a traceback shows), and the marker
must not exist afterwards.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from models.common.checkpoint_io import write_atomically
from models.diffusion.checkpoint import CHECKPOINT_KIND as DIFFUSION_KIND
from models.diffusion.checkpoint import FORMAT_VERSION as DIFFUSION_VERSION
from models.diffusion.checkpoint import DiffusionCheckpointError, load_run_checkpoint
from models.diffusion.denoiser import DenoiserConfig, MotionDenoiser
from models.diffusion.motion_repr import MOTION_DIM, MotionNormaliser
from models.diffusion.motion_vae import MotionVAE, MotionVAEConfig
from models.diffusion.vae_run import VAERunError, load_vae_run, save_vae_checkpoint
from models.encoders.encoder import CHECKPOINT_KIND as ENCODER_KIND
from models.encoders.encoder import CheckpointError, EncoderConfig, MotionEncoder, save_checkpoint
from models.encoders.features import FeatureStats
from models.encoders.run import load_encoder_run
from models.encoders.windows import LabelVocabulary
from models.evaluation.evaluator import (
    FRAME_FEATURES,
    EvaluatorError,
    EvaluatorNet,
    EvaluatorNetConfig,
    StyleEvaluator,
    load_evaluator,
    save_evaluator,
)
from models.scene.encoder import (
    SceneCheckpoint,
    SceneCheckpointError,
    SceneHead,
    SceneHeadConfig,
    load_scene_checkpoint,
    save_scene_checkpoint,
)
from storage.checksums import file_sha256
from storage.errors import UserInputError

TORCH_ADVICE = "weights_only"  # PyTorch's "Re-running `torch.load` with `weights_only` set to ..."
DAMAGED = "damaged (truncated or not a torch file)"
CODE = "refused: the file contains Python objects that are not plain weights"


class MkdirOnLoad:
    """What an attacker pickles: unpickling it calls `os.mkdir(marker)` (harmless, visible)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return (os.mkdir, (self.marker,))


@dataclass
class Loader:
    file: Path  # the checkpoint file the cases damage
    load: Callable[[], object]
    error: type[Exception]
    other_kind: str  # a kind this loader must refuse


def _encoder_run(directory: Path) -> Loader:
    torch.manual_seed(0)
    config = EncoderConfig(
        token_sizes=(5, 3, 3, 4, 4, 2), descriptor_size=3, d_model=16, num_layers=1,
        num_heads=2, content_dim=8, style_dim=8, max_frames=32,
    )  # fmt: skip
    stats = FeatureStats(np.zeros((6, 5)), np.ones((6, 5)), np.zeros((5, 3)), np.ones((5, 3)))
    extra = {
        "run_format": 1, "vocabulary": LabelVocabulary(("a", "b"), ("x",)).to_dict(),
        "feature_stats": stats.to_dict(), "step": 3,
        "train_config": {"features": {}, "data_root": "/data"},
    }  # fmt: skip
    directory.mkdir(parents=True)
    save_checkpoint(directory / "last.pt", MotionEncoder(config), extra)
    return Loader(
        directory / "last.pt", lambda: load_encoder_run(directory), CheckpointError, DIFFUSION_KIND
    )


def _evaluator(directory: Path) -> Loader:
    torch.manual_seed(0)
    config = EvaluatorNetConfig(num_styles=2, num_contents=1, channels=(8,), feature_dim=4)
    evaluator = StyleEvaluator(
        [EvaluatorNet(config)], LabelVocabulary(("a", "b"), ("x",)),
        np.zeros(FRAME_FEATURES), np.ones(FRAME_FEATURES), 48, 24, {}, {},
    )  # fmt: skip
    path = save_evaluator(directory, evaluator)
    return Loader(path, lambda: load_evaluator(directory), EvaluatorError, ENCODER_KIND)


def _diffusion(directory: Path) -> Loader:
    torch.manual_seed(0)
    config = DenoiserConfig(MOTION_DIM, 8, content_dim=8, style_dim=8, d_model=16, num_layers=1)
    normaliser = MotionNormaliser(np.zeros(MOTION_DIM, np.float32), np.ones(MOTION_DIM, np.float32))
    payload = {
        "kind": DIFFUSION_KIND, "format_version": DIFFUSION_VERSION, "config": asdict(config),
        "state_dict": MotionDenoiser(config).state_dict(), "stage": "base", "step": 1,
        "train_config": {}, "normaliser": normaliser.to_dict(),
        "vocabulary": LabelVocabulary(("a", "b"), ("x",)).to_dict(),
        "prototypes": torch.zeros(2, 8), "part_prototypes": torch.zeros(2, 5, 8),
        "encoder_run": "/runs/encoders", "encoder_checksum": "f" * 64,
        "latent_vae": None, "latent_vae_checksum": None,
    }  # fmt: skip
    directory.mkdir(parents=True)
    path = write_atomically(payload, directory / "last.pt")
    return Loader(
        path, lambda: load_run_checkpoint(directory), DiffusionCheckpointError, ENCODER_KIND
    )


def _vae(directory: Path) -> Loader:
    torch.manual_seed(0)
    config = MotionVAEConfig(MOTION_DIM, window_frames=8, downsample=2, latent_dim=4, hidden=8)
    normaliser = MotionNormaliser(np.zeros(MOTION_DIM, np.float32), np.ones(MOTION_DIM, np.float32))
    latent = (torch.zeros(4), torch.ones(4))
    directory.mkdir(parents=True)
    path = save_vae_checkpoint(directory, MotionVAE(config), normaliser, latent, config, {})
    return Loader(path, lambda: load_vae_run(directory), VAERunError, DIFFUSION_KIND)


def _scene(directory: Path) -> Loader:
    torch.manual_seed(0)
    head = SceneHead(
        SceneHeadConfig(d_model=8, style_dim=4, embedding_dim=5, num_scenes=3, hidden=8)
    )
    checkpoint = SceneCheckpoint(
        head=head, scenes=("a", "b", "c"), embeddings=torch.zeros(3, 5), embedding_source="x",
        associations={"a": ("happy",)}, provenance="controlled", encoder_run="/runs/encoders",
        encoder_checksum="f" * 64, step=1,
    )  # fmt: skip
    directory.mkdir(parents=True)
    path = directory / "scene.pt"
    save_scene_checkpoint(path, checkpoint)
    return Loader(path, lambda: load_scene_checkpoint(path), SceneCheckpointError, DIFFUSION_KIND)


LOADERS = {
    "encoder-run": _encoder_run,
    "evaluator": _evaluator,
    "diffusion": _diffusion,
    "vae": _vae,
    "scene": _scene,
}


def _truncated(loader: Loader, marker: Path) -> None:
    data = loader.file.read_bytes()
    loader.file.write_bytes(data[: len(data) // 2])


def _random(loader: Loader, marker: Path) -> None:
    loader.file.write_bytes(np.random.default_rng(7).bytes(4096))


def _empty(loader: Loader, marker: Path) -> None:
    loader.file.write_bytes(b"")


def _malicious_zip(loader: Loader, marker: Path) -> None:
    torch.save({"kind": "x", "payload": MkdirOnLoad(marker)}, loader.file)


def _malicious_legacy(loader: Loader, marker: Path) -> None:
    payload = {"kind": "x", "payload": MkdirOnLoad(marker)}
    torch.save(payload, loader.file, _use_new_zipfile_serialization=False)


def _malicious_raw_pickle(loader: Loader, marker: Path) -> None:
    loader.file.write_bytes(pickle.dumps(MkdirOnLoad(marker), protocol=2))


def _malicious_inside_real_payload(loader: Loader, marker: Path) -> None:
    payload = torch.load(loader.file, weights_only=True)  # the real one: right kind and version
    payload["extra" if "extra" in payload else "info"] = {"hook": MkdirOnLoad(marker)}
    torch.save(payload, loader.file)


def _python_objects(loader: Loader, marker: Path) -> None:
    payload = torch.load(loader.file, weights_only=True)
    payload["vocabulary"] = LabelVocabulary(("a",), ("x",))  # a class instance, not plain data
    torch.save(payload, loader.file)


def _other_kind(loader: Loader, marker: Path) -> None:
    torch.save({"kind": loader.other_kind, "format_version": 1, "state_dict": {}}, loader.file)


def _plain_tensor(loader: Loader, marker: Path) -> None:
    torch.save(torch.zeros(3), loader.file)


def _dict_without_kind(loader: Loader, marker: Path) -> None:
    torch.save({"state_dict": {"weight": torch.zeros(3)}}, loader.file)


DAMAGES: dict[str, tuple[Callable[[Loader, Path], None], Callable[[Loader], str]]] = {
    "truncated": (_truncated, lambda loader: DAMAGED),
    "random-bytes": (_random, lambda loader: DAMAGED),
    "empty": (_empty, lambda loader: "the file is empty"),
    "malicious-zip": (_malicious_zip, lambda loader: f"{CODE} (posix.mkdir: it could run code)"),
    "malicious-legacy": (_malicious_legacy, lambda loader: f"{CODE} (posix.mkdir"),
    "malicious-raw-pickle": (_malicious_raw_pickle, lambda loader: f"{CODE} (posix.mkdir"),
    "malicious-in-real-payload": (_malicious_inside_real_payload, lambda loader: f"{CODE} (posix"),
    "python-objects": (
        _python_objects,
        lambda loader: f"{CODE} (models.encoders.windows.LabelVocabulary",
    ),
    "other-kind": (_other_kind, lambda loader: f"checkpoint (kind '{loader.other_kind}')"),
    "plain-tensor": (_plain_tensor, lambda loader: "checkpoint (a Tensor, not a dict)"),
    "dict-without-kind": (_dict_without_kind, lambda loader: "checkpoint (a dict without a '"),
}


def _refresh_checksum(loader: Loader) -> None:
    """The evaluator is checked against its `.sha256` first: make it match the damaged bytes,
    so the damage itself is what the loader meets (review row 4.10/4.11)."""
    checksum = loader.file.with_name(loader.file.name + ".sha256")
    if checksum.is_file():
        checksum.write_text(f"{file_sha256(loader.file)}  {loader.file.name}\n")


def _shown_chain(error: BaseException) -> list[BaseException]:
    """The exceptions a traceback of `error` would print."""
    chain, current = [], error
    while current is not None:
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    return chain


def test_the_malicious_payload_is_live(tmp_path: Path) -> None:
    # The control: a plain unpickle runs the payload, so "no marker" below means "refused".
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(MkdirOnLoad(marker)))
    assert marker.is_dir()


@pytest.mark.parametrize("name", LOADERS)
def test_the_undamaged_checkpoints_load(name: str, tmp_path: Path) -> None:
    assert LOADERS[name](tmp_path / name).load() is not None


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("name", LOADERS)
def test_a_bad_checkpoint_is_one_typed_line(name: str, damage: str, tmp_path: Path) -> None:
    loader = LOADERS[name](tmp_path / name)
    marker = tmp_path / "payload-ran"
    write, expected = DAMAGES[damage]
    write(loader, marker)
    _refresh_checksum(loader)
    with pytest.raises(loader.error) as caught:
        loader.load()
    error = caught.value
    message = str(error)
    assert isinstance(error, UserInputError) and isinstance(error, ValueError)
    assert message.startswith(f"{loader.file}: "), message
    assert "\n" not in message
    assert expected(loader) in message
    for shown in _shown_chain(error):
        assert TORCH_ADVICE not in str(shown), f"{type(shown).__name__}: {shown}"
    assert not marker.exists(), "the pickled payload ran"
