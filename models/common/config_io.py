"""Config dataclasses from files and `key=value` overrides, and back to plain dicts.

Owns how a user changes a run without flags sprawl: `--config FILE` (YAML or JSON, nested like
the dataclasses) and `--set losses.orthogonality_weight=0.5` (dotted path, value parsed as YAML
so numbers, booleans and lists work). Unknown keys are refused with the valid ones listed, and
every value is checked before any work: its type against the field's (an int where an int is
meant, finite numbers only) and, for counts and sizes (`steps`, `*_size`, `*_dim`, `*_every`,
`learning_rate`, ...: `POSITIVE_FIELD_PATTERN`), that it is > 0.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from storage.errors import UserInputError, short_repr

ConfigT = TypeVar("ConfigT")


class ConfigError(UserInputError, ValueError):
    """A config file or override names a key that does not exist or holds a bad value."""


# Counts and sizes that must be > 0 (warm-up lengths and weights may be 0).
POSITIVE_FIELD_PATTERN = re.compile(
    r"(?!warmup|trajectory_)(.*_)?(steps|size|dim|d_model|heads|layers|every|per_batch|per_style|frames"
    r"|stride|learning_rate|batch_size|epochs|channels|width|hidden)"
)


def _scalar_types(hint: Any) -> tuple[type, ...]:
    """The plain types a field accepts: (int,), (float,), (str, NoneType), ... or () if other."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    plain = tuple(t for t in options if t in (int, float, bool, str, type(None)))
    return plain if len(plain) == len(options) else ()


def value_problem(cls: type, name: str, value: Any) -> str | None:
    """Why `value` cannot be field `name` of dataclass `cls` ("expected an integer", "must be
    > 0", ...), or None if it can (fields of other than plain types are not judged here)."""
    accepted = _scalar_types(typing.get_type_hints(cls)[name])
    if not accepted or value is None and type(None) in accepted:
        return None
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if bool in accepted and not isinstance(value, bool):
        return "expected true or false"
    if (
        int in accepted
        and float not in accepted
        and (not is_number or not math.isfinite(value) or value != int(value))
    ):
        return "expected an integer"
    if float in accepted and not is_number:
        return "expected a number"
    if str in accepted and not isinstance(value, str):
        return "expected a string"
    if is_number and not math.isfinite(value):
        return "must be a finite number"
    if is_number and POSITIVE_FIELD_PATTERN.fullmatch(name) and value <= 0:
        return "must be > 0"
    return None


def _check_value(cls: type, name: str, value: Any, where: str) -> None:
    problem = value_problem(cls, name, value)
    if problem is not None:
        raise ConfigError(f"{where}.{name}={short_repr(value)}: {problem}")


def _nested_type(cls: type, name: str) -> type | None:
    """The dataclass a field holds (`X` or `X | None`), else None."""
    hint = typing.get_type_hints(cls)[name]
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return next((option for option in options if dataclasses.is_dataclass(option)), None)


def _element_type(cls: type, name: str) -> type | None:
    """`X` of a `tuple[X, ...]` field whose elements are dataclasses, else None."""
    hint = typing.get_type_hints(cls)[name]
    arguments = typing.get_args(hint) if typing.get_origin(hint) is tuple else ()
    element = arguments[0] if arguments else None
    return element if element is not None and dataclasses.is_dataclass(element) else None


def _default_of(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None if field.default is dataclasses.MISSING else field.default


def _converted(cls: type, values: dict[str, Any], where: str) -> dict[str, Any]:
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; valid: {sorted(fields)}")
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        nested, element = _nested_type(cls, name), _element_type(cls, name)
        if nested is not None and isinstance(value, dict):
            base = _default_of(fields[name])  # the parent's own default, not the class default
            value = _rebuilt(nested, base, value, f"{where}.{name}")
        elif element is not None and isinstance(value, list | tuple):
            value = tuple(
                _rebuilt(element, None, item, f"{where}.{name}[{index}]")
                if isinstance(item, dict)
                else item
                for index, item in enumerate(value)
            )
        elif isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        else:
            _check_value(cls, name, value, where)
            if isinstance(value, float) and _scalar_types(typing.get_type_hints(cls)[name]) == (
                int,
            ):
                value = int(value)
        kwargs[name] = value
    return kwargs


def _rebuilt(
    cls: type[ConfigT], base: ConfigT | None, values: dict[str, Any], where: str
) -> ConfigT:
    kwargs = _converted(cls, values, where)
    try:
        return dataclasses.replace(base, **kwargs) if base is not None else cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from error


def config_from_dict(cls: type[ConfigT], values: dict[str, Any], where: str = "config") -> ConfigT:
    """Build dataclass `cls` from a nested dict; missing keys keep their defaults, and a nested
    section changes only the keys it names of the parent's default for that section."""
    return _rebuilt(cls, None, values, where)


def config_to_dict(config: object) -> dict[str, Any]:
    return dataclasses.asdict(config)


def load_config_file(path: str | Path) -> dict[str, Any]:
    try:
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read the config file: {error}") from error
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return values


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set dotted keys in a nested dict from `key=value` strings (values parsed as YAML)."""
    result = _deep_copy(values)
    for override in overrides:
        key, separator, text = override.partition("=")
        if not separator or not key:
            raise ConfigError(f"--set {override!r}: expected key=value")
        target = result
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
            if not isinstance(target, dict):
                raise ConfigError(f"--set {override!r}: {parent} is not a section")
        target[leaf] = yaml.safe_load(text)
    return result


def _deep_copy(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in values.items()}
