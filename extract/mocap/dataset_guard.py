"""One dataset, one source: refusing ingests that would merge or duplicate datasets silently.

A root may hold several datasets (issue 15), each ingested from its own source directory under
its own name; the name is the prefix of its shard ids. Two mistakes would otherwise pass in
silence: ingesting another directory under a name the root already uses (the new shards would
supersede, and so delete, the other directory's clips) and ingesting the same directory under a
second name (every clip twice, across train and test). `check_dataset_source` reads the done
markers' recorded settings (`source`) and refuses both with one line that says what to do.
Shards written before the source was recorded are not checked.
"""

from __future__ import annotations

import json
import re

from storage.errors import UserInputError
from storage.filesystem import Location
from storage.shard_reader import ShardReader


class DatasetSourceError(UserInputError, ValueError):
    """An ingest that would merge two sources into one dataset or one source into two."""


def own_shard_pattern(prefix: str) -> re.Pattern[str]:
    """Shard ids of one dataset's ingest: `<prefix>-[<settings digest>-]<index>-<inputs hash>`."""
    return re.compile(rf"{re.escape(prefix)}-([0-9a-f]{{8}}-)?\d{{5}}-[0-9a-f]{{10}}")


def recorded_sources(location: Location, stage: str) -> dict[str, set[str]]:
    """{dataset name: its recorded source directories} over the root's finished shards."""
    found: dict[str, set[str]] = {}
    for stats in ShardReader(location).stats():
        try:
            settings = json.loads(stats.settings_json) if stats.settings_json else {}
        except ValueError:
            continue
        if settings.get("stage") == stage and settings.get("source"):
            found.setdefault(str(settings["dataset"]), set()).add(str(settings["source"]))
    return found


def check_dataset_source(location: Location, stage: str, dataset: str, source: str) -> None:
    """Refuse a second source under `dataset`, or `source` already held under another name."""
    for name, sources in recorded_sources(location, stage).items():
        if name == dataset and sources - {source}:
            other = sorted(sources - {source})[0]
            raise DatasetSourceError(
                f"{location.uri}: dataset {dataset!r} already holds clips from {other}; "
                f"ingesting {source} under the same name would replace them: give --dataset "
                "another name (or ingest into a new root)"
            )
        if name != dataset and source in sources:
            raise DatasetSourceError(
                f"{location.uri}: {source} is already ingested as dataset {name!r}; ingesting "
                f"it again as {dataset!r} would hold every clip twice: re-run with --dataset "
                f"{name}"
            )
