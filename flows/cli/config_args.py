"""`--config FILE` and `--set key=value` for every subcommand that builds a config dataclass.

One way to set any setting of a job: `add_config_arguments(parser)` adds the two generic
options, and `build_config(cls, args, shortcuts)` builds `cls` from, lowest first, the
dataclass defaults, the config file (YAML/JSON, nested like `cls`), the shortcut flags the user
actually typed (`shortcuts` maps the flag's argparse name to its config key, optionally with a
converter: `{"no_bvh": ("write_bvh", operator.not_)}`), then every `--set` (dotted keys,
values parsed as YAML). Shortcut flags must default to None (`store_true` ones too:
`default=None`) so an untyped flag never hides the file's value. Every value is checked by
`models.common.config_io.config_from_dict` (known keys, types, finite numbers, positive counts);
a bad flag value is refused naming the flag as typed (`--steps 0: must be > 0 (steps)`). All
refusals are `ConfigError`s: one line, exit 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from models.common.config_io import (
    ConfigError,
    apply_overrides,
    config_from_dict,
    load_config_file,
    value_problem,
)

ConfigT = TypeVar("ConfigT")
Shortcut = str | tuple[str, Callable[[Any], Any]]


def add_config_arguments(parser: argparse.ArgumentParser, config_name: str) -> None:
    """Add `--config FILE` and the repeatable `--set KEY=VALUE` (on dataclass `config_name`)."""
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help=f"YAML/JSON with {config_name} fields"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"set one {config_name} field (dotted keys; repeatable; wins over flags and file)",
    )


def _flag_label(name: str) -> str:
    return "--" + name.replace("_", "-")


def _typed(value: Any) -> str:
    """A flag value roughly as the user typed it (`0`, `-1`, `nan`, `a b`)."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return " ".join(map(str, value))
    return str(value)


def _set_key(values: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    for parent in parents:
        values = values.setdefault(parent, {})
    values[leaf] = value


def _field_class(cls: type, key: str) -> tuple[type, str]:
    """The dataclass owning dotted `key` and the key's last part."""
    import dataclasses
    import types
    import typing

    *parents, leaf = key.split(".")
    for parent in parents:
        hint = typing.get_type_hints(cls)[parent]
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        sections = [option for option in options if dataclasses.is_dataclass(option)]
        assert sections, f"{key}: {parent} is not a config section"
        cls = sections[0]
    return cls, leaf


def flag_values(
    cls: type, args: argparse.Namespace, shortcuts: Mapping[str, Shortcut]
) -> dict[str, Any]:
    """The config values of the shortcut flags the user gave, each checked against its field."""
    values: dict[str, Any] = {}
    for attribute, shortcut in shortcuts.items():
        given = getattr(args, attribute, None)
        if given is None:
            continue
        key, convert = (shortcut, None) if isinstance(shortcut, str) else shortcut
        value = convert(given) if convert is not None else given
        if isinstance(value, list):
            value = tuple(value)
        owner, leaf = _field_class(cls, key)
        problem = value_problem(owner, leaf, value)
        if problem is not None:
            raise ConfigError(f"{_flag_label(attribute)} {_typed(given)}: {problem} ({key})")
        _set_key(values, key, value)
    return values


def _merged(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = _merged(merged[key], value)
        merged[key] = value
    return merged


def build_config(
    cls: type[ConfigT],
    args: argparse.Namespace,
    shortcuts: Mapping[str, Shortcut] = {},  # noqa: B006 (read only)
    flag_derived: Mapping[str, Any] | None = None,
    base: Mapping[str, Any] | None = None,
) -> ConfigT:
    """`cls` from defaults < `--config` file < typed shortcut flags < `--set` (module docstring).

    `flag_derived`: config values a flag stands for that are no single key (a vocabulary file's
    `scenes` and `templates`), at the flags' precedence; `base`: values of an input (a styles
    file's video limits) just above the defaults, below the config file."""
    config_file = getattr(args, "config", None)
    values = _merged(dict(base or {}), load_config_file(config_file) if config_file else {})
    values = _merged(values, flag_values(cls, args, shortcuts))
    values = _merged(values, dict(flag_derived or {}))
    values = apply_overrides(values, getattr(args, "set", None) or [])
    return config_from_dict(cls, values)
