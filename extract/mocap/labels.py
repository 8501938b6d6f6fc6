"""Style/content/take labels for motion-capture files.

Two label sources. `JsonIndexLabels`: the Bandai Namco layouts, a JSON file beside each BVH with
0-based indices (`{"content": i, "style": j}`) into `content_label.txt` and `style_label.txt`
in `_meta/cfg/` (dataset 1 as shipped here) or `cfg/` (dataset 2's official layout, its files in
`data/`); when the file name also carries labels (`dataset-1_<content>_<style>_<take>`)
the two must agree, so a mislabelled file is caught instead of silently trained on.
`PatternLabels`: a regular expression with named groups `style`, `content`, `take` matched
against the file's path relative to the ingest root, without extension. Labels are lower-cased.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from storage.errors import UserInputError, cut_message

BANDAI_FILENAME_PATTERN = r"dataset-\d+_(?P<content>[^_]+)_(?P<style>[^_]+)_(?P<take>\d+)"
LABEL_FILES = ("content_label.txt", "style_label.txt")


class LabelError(UserInputError, ValueError):
    """A label file is missing, malformed or contradicts another label source."""


@dataclass(frozen=True)
class ClipLabels:
    style: str | None = None
    content: str | None = None
    take: str | None = None


def _normalise(label: str | None) -> str | None:
    return None if label is None or label == "" else label.strip().lower()


class PatternLabels:
    """Labels from named groups of a regex fully matching the relative path stem."""

    def __init__(self, pattern: str) -> None:
        try:
            self.regex = re.compile(pattern)
        except re.error as error:
            shown = cut_message(repr(pattern), 120)
            raise LabelError(f"--label-pattern {shown}: not a valid regex: {error}") from error
        unknown = set(self.regex.groupindex) - {"style", "content", "take"}
        if unknown:
            raise LabelError(f"label pattern groups must be style/content/take, got {unknown}")

    def labels_for(self, relative_stem: str) -> ClipLabels:
        match = self.regex.fullmatch(relative_stem)
        if match is None:
            raise LabelError(
                f"{relative_stem}: does not match label pattern {self.regex.pattern!r}"
            )
        groups = match.groupdict()
        return ClipLabels(
            style=_normalise(groups.get("style")),
            content=_normalise(groups.get("content")),
            take=groups.get("take"),
        )


def _read_label_list(path: Path) -> list[str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    # Entries look like "dataset-1_walk": the label is what follows the dataset prefix.
    return [line.split("_", 1)[-1].lower() for line in lines if line]


LABEL_CONFIG_DIRS = ("_meta/cfg", "cfg")  # dataset-1's layout, dataset-2's official layout


def find_label_config(src_dir: Path) -> Path | None:
    """The directory holding both label lists: `_meta/cfg` or `cfg`, in `src_dir` or one level
    up (so both a dataset root and its `data/` folder find them)."""
    for base in (src_dir, src_dir.parent):
        for relative in LABEL_CONFIG_DIRS:
            cfg = base / relative
            if all((cfg / name).is_file() for name in LABEL_FILES):
                return cfg
    return None


def unlabelled_layout_warning(src_dir: Path, json_files: int) -> str | None:
    """A warning when label files lie beside the motion files but no label lists were found."""
    if json_files == 0:
        return None
    places = ", ".join(f"{src_dir / d}" for d in LABEL_CONFIG_DIRS)
    return (
        f"{src_dir}: {json_files} JSON label file(s) lie beside the BVH files, but no label "
        f"lists ({' + '.join(LABEL_FILES)}) were found in {places} or one level up: the clips "
        "are ingested without style or content (give --label-pattern, or put the lists there)"
    )


class JsonIndexLabels:
    """Bandai-style labels: JSON indices beside each file into the `_meta/cfg` label lists."""

    def __init__(self, cfg_dir: Path) -> None:
        self.contents = _read_label_list(cfg_dir / "content_label.txt")
        self.styles = _read_label_list(cfg_dir / "style_label.txt")
        self.filename_labels = PatternLabels(BANDAI_FILENAME_PATTERN)

    def _lookup(self, json_path: Path, payload: dict, key: str, names: list[str]) -> str:
        index = payload.get(key)
        if not isinstance(index, int) or not 0 <= index < len(names):
            raise LabelError(
                f"{json_path}: '{key}' must be an index below {len(names)}, got {index!r}"
            )
        return names[index]

    def labels_for(self, bvh_path: Path) -> ClipLabels:
        json_path = bvh_path.with_suffix(".json")
        try:
            payload = json.loads(json_path.read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise LabelError(f"{json_path}: label file missing") from error
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise LabelError(f"{json_path}: unreadable label file ({error})") from error
        if not isinstance(payload, dict):
            raise LabelError(f"{json_path}: expected a JSON object, got {type(payload).__name__}")
        labels = ClipLabels(
            style=self._lookup(json_path, payload, "style", self.styles),
            content=self._lookup(json_path, payload, "content", self.contents),
            take=self._take_from_name(bvh_path),
        )
        self._check_against_filename(bvh_path, labels)
        return labels

    def _take_from_name(self, bvh_path: Path) -> str | None:
        match = self.filename_labels.regex.fullmatch(bvh_path.stem)
        return match.group("take") if match else None

    def _check_against_filename(self, bvh_path: Path, labels: ClipLabels) -> None:
        try:
            from_name = self.filename_labels.labels_for(bvh_path.stem)
        except LabelError:
            return  # the name carries no labels to compare with
        for key in ("style", "content"):
            if getattr(from_name, key) != getattr(labels, key):
                raise LabelError(
                    f"{bvh_path.with_suffix('.json')}: contradictory labels, it says {key} "
                    f"'{getattr(labels, key)}' but the file name {bvh_path.name} says "
                    f"'{getattr(from_name, key)}'"
                )
