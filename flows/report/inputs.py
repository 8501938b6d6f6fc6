"""What a report is made of: each input directory (or file) and its kind, told by what is on disk.

Owns `RunKind`, `ReportInput`, `detect_kind(path)` and `resolve_inputs(root, runs)`. A kind is
recognised by the files the stage that made it writes, never by the folder's name: a dataset
root by its done-markers (`_done/`), a stylize output by its `stylized-*` shards (or `bvh/*.bvh`
beside `previews/*.mp4`), an evaluate output by its JSON report (`results` + `real`; the file
itself or a directory holding it), and training runs by their checkpoint and `run.json`
(`vae.pt`, `scene.pt`, `evaluator.pt`, else `last.pt` / `run.json` whose config names an
`encoder_run`: diffusion; one that does not: encoders). A ROOT that is not a directory, or a RUN
of no known kind, is a `ReportInputError` naming the input.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from storage.errors import UserInputError
from storage.shard_health import DONE_DIR

RUN_CONFIG = "run.json"
STYLIZED_SHARD_PREFIX = "stylized-"  # flows.jobs.stylize names its shards so
MAX_REPORT_JSON_BYTES = 64 << 20  # an evaluate report is kilobytes; refuse to parse a huge file


class ReportInputError(UserInputError, ValueError):
    """An input of the report that cannot be used; the message names it and says why."""


class RunKind(StrEnum):
    DATASET = "dataset root"
    STYLIZE = "stylize output"
    EVALUATE = "evaluate output"
    ENCODERS = "encoder run"
    DIFFUSION = "diffusion run"
    VAE = "motion VAE run"
    SCENE = "scene encoder run"
    EVALUATOR = "style evaluator"


@dataclass(frozen=True)
class ReportInput:
    """One input of the report: where it is, what it is, and the name it is shown under."""

    path: Path
    kind: RunKind
    name: str


def read_json_object(path: Path) -> dict | None:
    """The JSON object in `path`, or None when it is missing, too large, not JSON or no object."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_REPORT_JSON_BYTES:
            return None
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def is_evaluation_report(path: Path) -> bool:
    """True for the JSON report `stylemotion evaluate --out` writes (`results` and `real`)."""
    if path.suffix.lower() != ".json":
        return False
    report = read_json_object(path)
    return (
        report is not None
        and isinstance(report.get("results"), list)
        and isinstance(report.get("real"), dict)
    )


def evaluation_reports(path: Path) -> list[Path]:
    """The evaluate reports of an input: the file itself, or the reports directly in a folder."""
    if path.is_file():
        return [path] if is_evaluation_report(path) else []
    return [file for file in sorted(path.glob("*.json")) if is_evaluation_report(file)]


def run_config(path: Path) -> dict:
    """The training config in `run.json` (its `config` object; {} when there is none)."""
    description = read_json_object(path / RUN_CONFIG) or {}
    config = description.get("config", {})
    return config if isinstance(config, dict) else {}


def _has_any(folder: Path, pattern: str) -> bool:
    return folder.is_dir() and next(folder.glob(pattern), None) is not None


def is_stylize_output(path: Path) -> bool:
    """`stylize --out`: its stylized shards (`dataset/_done/stylized-*.json`), or BVH files and
    previews side by side (a run with `write_bvh` and `write_previews` whose shards are gone).
    A pipeline's output folder (`previews/preview-*.mp4` beside a dataset) is not one."""
    if _has_any(path / "dataset" / DONE_DIR, f"{STYLIZED_SHARD_PREFIX}*.json"):
        return True
    return _has_any(path / "bvh", "*.bvh") and _has_any(path / "previews", "*.mp4")


def detect_kind(path: Path) -> RunKind | None:
    """The kind of `path` by the files in it (see the module docstring), or None."""
    if path.is_file():
        return RunKind.EVALUATE if is_evaluation_report(path) else None
    if not path.is_dir():
        return None
    if (path / DONE_DIR).is_dir():
        return RunKind.DATASET
    if is_stylize_output(path):
        return RunKind.STYLIZE
    for checkpoint, kind in (
        ("vae.pt", RunKind.VAE),
        ("scene.pt", RunKind.SCENE),
        ("evaluator.pt", RunKind.EVALUATOR),
    ):
        if (path / checkpoint).is_file():
            return kind
    if (path / "last.pt").is_file() or (path / RUN_CONFIG).is_file():
        return RunKind.DIFFUSION if "encoder_run" in run_config(path) else RunKind.ENCODERS
    if evaluation_reports(path):
        return RunKind.EVALUATE
    return None


KNOWN_KINDS = ", ".join(kind.value for kind in RunKind)


def _located(text: str, root: Path) -> Path:
    """RUN as given (absolute, or relative to the working directory), else relative to ROOT."""
    path = Path(text).expanduser()
    if not path.exists() and not path.is_absolute() and (root / path).exists():
        path = root / path
    try:
        return path.resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop
        raise ReportInputError(f"{text}: cannot resolve the path ({error}) (RUN)") from error


def resolve_inputs(root: str | Path, runs: Sequence[str | Path]) -> list[ReportInput]:
    """ROOT (when it is itself of a known kind) and every RUN, each with its kind.

    Raises `ReportInputError` for a ROOT that is not a directory, a RUN that does not exist or
    that is none of the known kinds; the message names the input.
    """
    root_path = Path(root).expanduser()
    if not root_path.is_dir():
        reason = "no such directory" if not root_path.exists() else "not a directory"
        raise ReportInputError(f"{root}: {reason} (ROOT)")
    root_path = root_path.resolve()
    inputs: list[ReportInput] = []
    root_kind = detect_kind(root_path)
    if root_kind is not None:
        inputs.append(ReportInput(root_path, root_kind, root_path.name))
    for text in runs:
        path = _located(str(text), root_path)
        if not path.exists():
            raise ReportInputError(f"{text}: no such file or directory (RUN)")
        kind = detect_kind(path)
        if kind is None:
            raise ReportInputError(
                f"{text}: not a run this report knows (RUN; expected one of: {KNOWN_KINDS})"
            )
        if all(existing.path != path for existing in inputs):
            inputs.append(ReportInput(path, kind, _display_name(path, root_path)))
    return inputs


def _display_name(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
