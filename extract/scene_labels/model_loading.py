"""Where scene-labelling weights come from: settings, hub ids, local directories, offline mode.

Owns the two model settings and their resolution. The CLIP model is `--model` /
`SceneLabelConfig.clip_model`, else `$STYLEMOTION_SCENE_MODEL`; the caption VLM is
`--caption-model` / `SceneLabelConfig.caption_model`, else `$STYLEMOTION_CAPTION_MODEL`. An
open_clip model is `local-dir:DIR` (or a plain directory) holding `open_clip_config.json` and
its weights, or `hf-hub:ORG/REPO`: the two files are fetched into the Hugging Face cache with
`huggingface_hub` and then loaded through the same local-directory path, so the hub and local
cases share one loading code, and a repository without weights is an error rather than the
randomly initialised model open_clip would otherwise quietly return. Offline mode
(`HF_HUB_OFFLINE=1` or the `offline` flag) only looks in the cache. Every failure is a
`SceneModelError` that names the setting to change. Before a library reads a weights file,
`check_weights_file` (`check_weights_dir` for a transformers directory) opens it the safe way
(a safetensors header; a `weights_only` torch load, memory-mapped so the tensors are not read)
and refuses a damaged, empty or foreign file, or a pickle holding Python objects that are not
plain weights (it could run code), in the one-line words of `storage.checkpoint_refusal` that
every checkpoint loader uses. The version recorded with each label is a fingerprint of the
weight files' bytes, so a retrained model in the same directory is a new labeller.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from storage.checkpoint_refusal import load_refusing
from storage.errors import UserInputError

CLIP_MODEL_ENV = "STYLEMOTION_SCENE_MODEL"
CAPTION_MODEL_ENV = "STYLEMOTION_CAPTION_MODEL"
CLIP_SETTING = f"--model / {CLIP_MODEL_ENV}"
CAPTION_SETTING = f"--caption-model / {CAPTION_MODEL_ENV}"
OPEN_CLIP_CONFIG = "open_clip_config.json"
OPEN_CLIP_WEIGHTS = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
)
TRANSFORMERS_WEIGHTS = ("model*.safetensors", "pytorch_model*.bin")
LOCAL_DIR_PREFIX = "local-dir:"
HF_HUB_PREFIX = "hf-hub:"
_TRUE = {"1", "true", "yes", "on"}


class SceneModelError(RuntimeError, UserInputError):
    """Scene-model weights that cannot be found or are of the wrong kind; names the setting."""


def offline_mode(flag: bool = False) -> bool:
    """True when asked, or when HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE is set to a true value."""
    variables = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    return flag or any(os.environ.get(name, "").lower() in _TRUE for name in variables)


def model_setting(explicit: str | None, environment_variable: str) -> str | None:
    """The explicit setting, else the environment variable, else None."""
    return explicit or os.environ.get(environment_variable) or None


def fingerprint_files(paths: list[Path]) -> str:
    """12 hex digits of SHA-256 over the files' bytes, in name order."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.name):
        digest.update(path.name.encode("utf-8"))
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()[:12]


def resolve_open_clip_dir(spec: str, offline: bool) -> Path:
    """A local directory with an open_clip config and weights for `spec` (see module doc)."""
    if spec.startswith(HF_HUB_PREFIX):
        return _open_clip_from_hub(spec[len(HF_HUB_PREFIX) :], offline)
    directory = Path(spec.removeprefix(LOCAL_DIR_PREFIX)).expanduser()
    if not directory.is_dir():
        raise SceneModelError(
            f"CLIP model '{spec}' is neither an existing directory nor an hf-hub: id; set "
            f"{CLIP_SETTING} to local-dir:/path/to/open_clip_model or hf-hub:ORG/REPO"
        )
    check_open_clip_dir(directory, spec)
    return directory


def open_clip_weights(directory: Path) -> Path | None:
    for name in OPEN_CLIP_WEIGHTS:
        if (directory / name).is_file():
            return directory / name
    return None


def check_open_clip_dir(directory: Path, spec: str) -> None:
    """Refuse a directory that is not a complete open_clip model, saying what it lacks."""
    config_path = directory / OPEN_CLIP_CONFIG
    if not config_path.is_file():
        hint = " (it holds a transformers config.json: is it a caption model?)"
        hint = hint if (directory / "config.json").is_file() else ""
        raise SceneModelError(
            f"CLIP model '{spec}': {directory} has no {OPEN_CLIP_CONFIG}, so it is not an "
            f"open_clip model{hint}; set {CLIP_SETTING} to an open_clip model directory"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SceneModelError(f"CLIP model '{spec}': {config_path} unreadable ({error})") from error
    if not isinstance(config, dict) or "model_cfg" not in config:
        raise SceneModelError(f"CLIP model '{spec}': {config_path} has no 'model_cfg'")
    weights = open_clip_weights(directory)
    if weights is None:
        raise SceneModelError(
            f"CLIP model '{spec}': no weights in {directory} (expected one of "
            f"{', '.join(OPEN_CLIP_WEIGHTS)}); download them there or set {CLIP_SETTING}"
        )
    check_weights_file(weights, f"CLIP model '{spec}'", CLIP_SETTING)


_ZIP_MAGIC = b"PK\x03\x04"


def _safetensors_names(path: Path) -> list[str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:  # reads and checks the header only
        return list(handle.keys())


def _torch_weights(path: Path) -> Any:
    import torch

    with path.open("rb") as handle:
        zipped = handle.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC
    # A zip checkpoint is memory-mapped (its tensors are not read); a legacy one is read whole.
    return torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)


def _not_weights(loaded: Any) -> str | None:
    """What `loaded` is when it is not a state dict (a dict of tensors, maybe under
    'state_dict'), else None."""
    import torch

    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else loaded
    if not isinstance(state, dict):
        return f"a {type(state).__name__}, not a dict of tensors"
    if not state or not all(isinstance(value, torch.Tensor) for value in state.values()):
        return "a dict that is not only tensors" if state else "an empty dict"
    return None


def check_weights_file(path: Path, what: str, setting: str) -> None:
    """Refuse a weights file (`.safetensors`, else a torch pickle) that is damaged, empty, not
    a state dict, or a pickle with Python objects in it, before any library loads it; `what`
    ("CLIP model 'x'") and `setting` go into the `SceneModelError` message."""
    path = Path(path)

    def refuse(message: str) -> SceneModelError:
        return SceneModelError(f"{what}: {message}; set {setting} to a complete, intact model")

    if path.suffix == ".safetensors":
        load_refusing(path, _safetensors_names, "weights", refuse, "safetensors")
        return
    loaded = load_refusing(path, _torch_weights, "weights", refuse)
    problem = _not_weights(loaded)
    if problem is not None:
        raise refuse(f"{path}: not a weights file ({problem})")


def check_weights_dir(directory: Path, what: str, setting: str) -> None:
    """`check_weights_file` on every transformers weights file in `directory` (`model*.safetensors`,
    `pytorch_model*.bin`; other pickles there, such as `training_args.bin`, are not loaded)."""
    for pattern in TRANSFORMERS_WEIGHTS:
        for path in sorted(Path(directory).glob(pattern)):
            check_weights_file(path, what, setting)


def _open_clip_from_hub(repo_id: str, offline: bool) -> Path:
    from huggingface_hub import hf_hub_download

    where = "in the local Hugging Face cache (offline mode)" if offline else "on the hub"
    try:
        config = Path(hf_hub_download(repo_id, OPEN_CLIP_CONFIG, local_files_only=offline))
    except Exception as error:  # hub errors have many types; all mean "not available"
        raise SceneModelError(
            f"CLIP model 'hf-hub:{repo_id}': {OPEN_CLIP_CONFIG} not found {where} "
            f"({type(error).__name__}); download it first or set {CLIP_SETTING} to local-dir:DIR"
        ) from error
    for name in OPEN_CLIP_WEIGHTS:
        try:
            weights = Path(hf_hub_download(repo_id, name, local_files_only=offline))
        except Exception:  # not in this repository, or not cached (offline): try the next name
            continue
        if weights.parent == config.parent:
            check_weights_file(weights, f"CLIP model 'hf-hub:{repo_id}'", CLIP_SETTING)
            return config.parent
    raise SceneModelError(
        f"CLIP model 'hf-hub:{repo_id}': no open_clip weights found {where} (tried "
        f"{', '.join(OPEN_CLIP_WEIGHTS)}); download them first or set {CLIP_SETTING}"
    )
