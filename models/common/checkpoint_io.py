"""Reading and writing the stage checkpoints (encoders, diffusion runs, motion VAEs, scene heads,
the frozen evaluator) safely.

Owns `write_atomically` (a payload saved to a temporary name, then renamed, so a crash never
leaves half a checkpoint), `load_weights_only` (the one `torch.load(weights_only=True)` every
loader goes through: a damaged, empty or code-carrying file becomes the caller's error class with
the file named and the reason from `storage.checkpoint_refusal`, never PyTorch's advice to load it
unsafely), `read_checked` (that load plus a check of the payload's "kind" and "format_version"),
`payload_kind` (what a foreign payload is, for those messages) and `config_of` (a config
dataclass rebuilt from its saved fields, refusing unknown ones).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import torch

from storage.checkpoint_refusal import load_refusing
from storage.errors import cut_message, short_repr

ConfigT = TypeVar("ConfigT")


def write_atomically(payload: dict[str, Any], path: Path) -> Path:
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)
    return path


def load_weights_only(
    path: str | Path,
    description: str,
    error: Callable[[str], Exception],
    map_location: torch.device | str = "cpu",
    safe_globals: Sequence[Any] = (),
) -> Any:
    """`torch.load(path, weights_only=True)` (plus the `safe_globals` the caller allows), or
    `error("<path>: not a readable <description> checkpoint: <reason>")` when the file is empty,
    damaged, or holds Python objects that are not plain weights (refused: it could run code).
    A missing file raises `FileNotFoundError` as it is (callers say what to run to make it)."""

    def load(checked: Path) -> Any:
        with torch.serialization.safe_globals(list(safe_globals)):
            return torch.load(checked, map_location=map_location, weights_only=True)

    return load_refusing(path, load, description, error)


def article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def payload_kind(payload: Any) -> str:
    """What a loaded payload is, for a "not a ... checkpoint (...)" message."""
    if not isinstance(payload, dict):
        return f"{article(type(payload).__name__)}, not a dict"
    if "kind" not in payload:
        return "a dict without a 'kind'"
    return f"kind {short_repr(payload['kind'])}"


def read_checked(
    path: Path,
    kind: str,
    version: int,
    error: type[Exception],
    description: str,
    map_location: torch.device | str = "cpu",
    safe_globals: Sequence[Any] = (),
) -> dict[str, Any]:
    """The checkpoint's payload; `error(...)` naming `path` when it is unreadable (see
    `load_weights_only`), of another kind (`description` says what was expected) or of another
    format version. A missing file raises `FileNotFoundError` as it is."""
    payload = load_weights_only(path, description, error, map_location, safe_globals)
    if not isinstance(payload, dict) or payload.get("kind") != kind:
        raise error(f"{path}: not {article(description)} checkpoint ({payload_kind(payload)})")
    if payload.get("format_version") != version:
        raise error(
            f"{path}: format version {short_repr(payload.get('format_version'))}, "
            f"this code reads {version}"
        )
    return payload


def config_of(
    cls: type[ConfigT], path: Path, values: Any, error: type[Exception], what: str
) -> ConfigT:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    if not isinstance(values, dict) or set(values) - names:
        raise error(f"{path}: {what} config this code does not know")
    try:
        return cls(**values)
    except (TypeError, ValueError) as failure:
        raise error(f"{path}: {what} config cannot be rebuilt: {cut_message(failure)}") from failure
