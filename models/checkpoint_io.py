"""Reading and writing the stage checkpoints (diffusion runs, motion VAEs) safely.

Owns `write_atomically` (a payload saved to a temporary name, then renamed, so a crash never
leaves half a checkpoint) and `read_checked` (a `weights_only` load that checks the payload's
"kind" and "format_version" and raises the caller's error class with the file named), plus
`config_of` (a config dataclass rebuilt from its saved fields, refusing unknown ones).
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import torch

ConfigT = TypeVar("ConfigT")


def write_atomically(payload: dict[str, Any], path: Path) -> Path:
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)
    return path


def read_checked(
    path: Path,
    kind: str,
    version: int,
    error: type[Exception],
    description: str,
    map_location: torch.device | str = "cpu",
) -> dict[str, Any]:
    """The checkpoint's payload; `error(...)` naming `path` when it is unreadable, of another
    kind (`description` says what was expected) or of another format version. A missing file
    raises `FileNotFoundError` as it is (callers say what to run to make it)."""
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as failure:
        raise error(f"{path}: not a readable {description} checkpoint: {failure}") from failure
    if not isinstance(payload, dict) or payload.get("kind") != kind:
        raise error(f"{path}: not a {description} checkpoint")
    if payload.get("format_version") != version:
        raise error(
            f"{path}: format version {payload.get('format_version')!r}, this code reads {version}"
        )
    return payload


def config_of(
    cls: type[ConfigT], path: Path, values: Any, error: type[Exception], what: str
) -> ConfigT:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    if not isinstance(values, dict) or set(values) - names:
        raise error(f"{path}: {what} config this code does not know")
    return cls(**values)
