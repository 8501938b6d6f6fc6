"""Path arguments of every `stylemotion` subcommand, checked and made absolute before any work.

`check_path_arguments(command, args)` runs before a handler: local input paths (`--data`,
`--run`, `ROOT`, `--encoders`, ...) must exist and are rewritten to absolute paths, so a run
records where its data really is and a relative path works from any directory; outputs
(`--out`, and the root of commands that write into it) are created and proven writable
(`storage.filesystem.ensure_writable`). A missing input, a symlink loop, an output below a
regular file or on a read-only mount is one `UsageError` naming the argument, before a model
loads or a file is imported. URIs (`s3://...`) pass through for their filesystem to judge.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from flows.cli.common import UsageError
from storage.filesystem import UnwritableLocationError, ensure_writable

INPUT_ARGUMENTS = ("data", "run", "root", "src_dir", "encoders", "latent_vae")
INPUT_ARGUMENTS = (*INPUT_ARGUMENTS, "scene_run", "styles_file", "adain")
# `--evaluator` is left to `models.evaluation.evaluator`, whose refusal says how to make one.
FILE_OUTPUT_COMMANDS = frozenset({"export-bvh", "render", "evaluate"})
WRITES_INTO_ROOT = frozenset({"label-scenes", "extract"})


POSITIONALS = frozenset({"root", "src_dir", "styles_file"})


def _label(name: str) -> str:
    """How the user typed the argument: `ROOT` for a positional, `--latent-vae` for an option."""
    if name in POSITIONALS:
        return name.upper()
    return "--" + name.replace("_", "-")


def _absolute(text: str | Path, name: str) -> Path:
    try:
        return Path(text).expanduser().resolve()
    except (RuntimeError, OSError) as error:  # RuntimeError: a symlink loop (Python 3.11)
        raise UsageError(f"{text}: cannot resolve the path ({error}) ({_label(name)})") from error


def _checked_input(value: str | Path, name: str) -> str | Path:
    if "://" in str(value):
        return value
    path = _absolute(value, name)
    if not path.exists():
        raise UsageError(f"{value}: no such file or directory ({_label(name)})")
    return path if isinstance(value, Path) else str(path)


def _checked_output(value: str | Path, name: str, is_file: bool) -> str | Path:
    if "://" in str(value):
        target = str(value)
    else:
        path = _absolute(value, name)
        if is_file and path.is_dir():
            raise UsageError(f"{value}: is a directory, expected a file path ({_label(name)})")
        target = str(path.parent if is_file else path)
        value = path if isinstance(value, Path) else str(path)
    try:
        ensure_writable(target)
    except UnwritableLocationError as error:
        raise UsageError(f"{error} ({_label(name)})") from error
    return value


def check_path_arguments(command: str, args: argparse.Namespace) -> None:
    """Check and absolutise `args`' path arguments in place (see the module docstring)."""
    for name in INPUT_ARGUMENTS:
        value = getattr(args, name, None)
        if isinstance(value, list):
            setattr(args, name, [_checked_input(item, name) for item in value])
        elif value is not None:
            setattr(args, name, _checked_input(value, name))
    out = getattr(args, "out", None)
    if out is not None:
        is_file = command in FILE_OUTPUT_COMMANDS
        args.out = _checked_output(out, "out", is_file)
    if command in WRITES_INTO_ROOT and getattr(args, "root", None) is not None:
        _checked_output(args.root, "root", is_file=False)
