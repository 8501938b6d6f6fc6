"""One style vocabulary across datasets: a user-editable YAML mapping of dataset style names.

Owns `StyleVocabulary`: `shared_name(dataset, style)` turns a dataset's own style name (e.g.
Bandai-2's `elderly`) into the shared one (`old`), by the dataset's own entries first and the
global `aliases` next; a name no entry covers stays as it is. The ingest stores the shared name
in `style` and the dataset's own in `style_original`; training, evaluation and stylization only
ever see shared names, and `resolve(name)` lets a user ask for a style by either name. The
default mapping is `extract/mocap/style_vocabulary.yaml` (documented there); `load_style_vocabulary`
reads a user's file with the same rules and refuses, in one line, duplicate keys, one name
mapped to two styles, chains, anchors/aliases and oversized files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from storage.errors import UserInputError, cut_message, short_repr

DEFAULT_VOCABULARY_FILE = Path(__file__).with_name("style_vocabulary.yaml")
MAX_VOCABULARY_BYTES = 256 * 1024


class VocabularyFileError(UserInputError, ValueError):
    """A style vocabulary file that cannot be used; the message names the file and why."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and anchors/aliases."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"key {short_repr(key)} given twice (line {mark.line + 1})", mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True)
class StyleVocabulary:
    """Dataset style names -> shared names (`aliases` for all datasets, `datasets` per dataset)."""

    aliases: dict[str, str] = field(default_factory=dict)
    datasets: dict[str, dict[str, str]] = field(default_factory=dict)
    source: str = "(built in)"
    digest: str = ""

    def __post_init__(self) -> None:
        for scope, mapping in [("aliases", self.aliases), *self._dataset_scopes()]:
            _check_no_chains(mapping, self.source, scope)

    def _dataset_scopes(self) -> list[tuple[str, dict[str, str]]]:
        return [(f"datasets.{name}", {**self.aliases, **m}) for name, m in self.datasets.items()]

    def shared_name(self, dataset: str, style: str | None) -> str | None:
        """The shared name of `dataset`'s style `style` (itself when no entry names it)."""
        if style is None:
            return None
        own = self.datasets.get(dataset, {})
        return own.get(style, self.aliases.get(style, style))

    def resolve(self, name: str) -> str:
        """A style asked for by a user, by its shared name or any dataset's own name."""
        if name in self.aliases:
            return self.aliases[name]
        targets = {m[name] for m in self.datasets.values() if name in m}
        if len(targets) > 1:
            raise VocabularyFileError(
                f"{self.source}: style {name!r} means {sorted(targets)} in different datasets; "
                "ask for the shared name"
            )
        return targets.pop() if targets else name

    def unmapped(self, dataset: str, styles: set[str]) -> list[str]:
        """Styles of `dataset` no entry covers (kept under their own names)."""
        covered = set(self.aliases) | set(self.datasets.get(dataset, {}))
        shared = set(self.aliases.values()) | set(self.datasets.get(dataset, {}).values())
        return sorted(styles - covered - shared)


def _check_no_chains(mapping: dict[str, str], source: str, scope: str) -> None:
    for name, target in mapping.items():
        if target in mapping and mapping[target] != target:
            raise VocabularyFileError(
                f"{source}: {scope}: {name!r} -> {target!r} -> {mapping[target]!r} is a chain; "
                "map every name straight to its shared name"
            )


def _string_map(value: object, source: str, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip()
        for k, v in value.items()
    ):
        raise VocabularyFileError(f"{source}: {where} must map style names to style names")
    return {k.strip().lower(): v.strip().lower() for k, v in value.items()}


def load_style_vocabulary(path: str | Path | None = None) -> StyleVocabulary:
    """The vocabulary in `path` (default: the shipped `style_vocabulary.yaml`)."""
    path = Path(path) if path is not None else DEFAULT_VOCABULARY_FILE
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_VOCABULARY_BYTES + 1)
    except OSError as error:
        raise VocabularyFileError(f"{path}: cannot read ({error.strerror or error})") from error
    if len(data) > MAX_VOCABULARY_BYTES:
        raise VocabularyFileError(f"{path}: larger than {MAX_VOCABULARY_BYTES} bytes")
    loader = _StrictLoader(data.decode("utf-8", errors="replace"))
    loader.compose_node = _no_alias_compose(loader)
    try:
        payload = loader.get_single_data()
    except yaml.YAMLError as error:
        raise VocabularyFileError(f"{path}: {cut_message(str(error), 300)}") from error
    finally:
        loader.dispose()
    if not isinstance(payload, dict) or payload.get("version") != 1:
        raise VocabularyFileError(f"{path}: expected a mapping with `version: 1`")
    unknown = set(payload) - {"version", "aliases", "datasets"}
    if unknown:
        raise VocabularyFileError(f"{path}: unknown keys {sorted(map(str, unknown))}")
    datasets = payload.get("datasets") or {}
    if not isinstance(datasets, dict):
        raise VocabularyFileError(f"{path}: datasets must map dataset names to mappings")
    return StyleVocabulary(
        aliases=_string_map(payload.get("aliases"), str(path), "aliases"),
        datasets={
            str(name): _string_map(m, str(path), f"datasets.{name}") for name, m in datasets.items()
        },
        source=str(path),
        digest=hashlib.sha1(data).hexdigest()[:10],
    )


def _no_alias_compose(loader: _StrictLoader):
    original = loader.compose_node

    def compose(parent, index):  # type: ignore[no-untyped-def]
        if loader.check_event(yaml.events.AliasEvent):
            event = loader.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML anchors/aliases are not allowed here", event.start_mark
            )
        return original(parent, index)

    return compose
