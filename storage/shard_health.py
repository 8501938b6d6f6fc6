"""Checking that a done-marker still tells the truth about its shard, cheaply.

A done-marker (`ShardStats`) vouches for the table files of its shard: each file's byte size
(`table_bytes`) and its row count (`rows`). `shard_problem` checks both against the files as
they are now: a stat per file, and the Parquet footer (a few KB at the end of the file) for the
row count and the schema metadata. A shard whose marker lies is *damaged*: readers leave it out
and name it (`ShardReader.damaged_shards`, `stylemotion inspect`), and `is_shard_done` says
"not done", so re-running the stage that wrote it rewrites exactly that shard. A shard written
by a newer stylemotion (unknown schema version) is left out by readers too, but it is not
damaged: the stage does not overwrite it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

import pyarrow as pa
import pyarrow.parquet as pq

from storage.errors import cut_message
from storage.filesystem import Location
from storage.records import RecordError, ShardStats
from storage.schema import SchemaVersionError, check_schema_metadata

logger = logging.getLogger(__name__)

DONE_DIR = "_done"
_STATS_FIELDS = {f.name for f in fields(ShardStats)}
_warned: set[tuple[str, str, str]] = set()


@dataclass(frozen=True)
class ShardProblem:
    """Why a finished shard cannot be read as its marker says; `rewrite` if its stage should."""

    shard_id: str
    reason: str
    rewrite: bool = True

    def describe(self) -> str:
        return f"{self.shard_id}: {self.reason}"


def done_marker_path(location: Location, shard_id: str) -> str:
    return location.join(DONE_DIR, f"{shard_id}.json")


def read_marker(location: Location, shard_id: str) -> ShardStats:
    """The shard's done-marker; `ValueError` naming the file when it cannot be parsed."""
    path = done_marker_path(location, shard_id)
    try:
        payload = location.read_json(path)
        known = {k: v for k, v in payload.items() if k in _STATS_FIELDS}
        known["inputs"] = tuple(known.get("inputs", ()))
        return ShardStats(**known)
    except (OSError, ValueError, TypeError, AttributeError, RecordError) as error:
        reason = cut_message(str(error), 200)
        raise ValueError(f"done-marker {path} is unreadable: {reason}") from error


def _file_problem(location: Location, stats: ShardStats, table: str) -> ShardProblem | None:
    path = location.join(table, f"{stats.shard_id}.parquet")
    if not location.exists(path):
        return ShardProblem(stats.shard_id, f"its '{table}' file {path} is missing")
    try:
        parquet = pq.ParquetFile(path, filesystem=location.filesystem)
        num_rows = parquet.metadata.num_rows
        check_schema_metadata(parquet.schema_arrow.metadata, table, path)
    except SchemaVersionError as error:  # written by another stylemotion: never overwritten
        return ShardProblem(stats.shard_id, str(error), rewrite=False)
    except (OSError, pa.ArrowException) as error:
        reason = f"{path} is not readable Parquet ({cut_message(str(error), 160)})"
        return ShardProblem(stats.shard_id, reason)
    expected_bytes = stats.table_bytes.get(table)
    size = location.file_size(path)
    if expected_bytes is not None and size != expected_bytes:
        reason = f"{path} has {size} bytes, its done-marker says {expected_bytes} (damaged)"
        return ShardProblem(stats.shard_id, reason)
    if num_rows != stats.rows[table]:
        reason = f"{path} holds {num_rows} rows, its done-marker says {stats.rows[table]}"
        return ShardProblem(stats.shard_id, reason)
    return None


def shard_problem(
    location: Location, shard_id: str, tables: tuple[str, ...] | None = None
) -> ShardProblem | None:
    """None when the marker and the files of `tables` (default: all it names) agree."""
    try:
        stats = read_marker(location, shard_id)
    except ValueError as error:
        return ShardProblem(shard_id, str(error))
    for table in tables if tables is not None else tuple(stats.rows):
        if table not in stats.rows:
            continue
        problem = _file_problem(location, stats, table)
        if problem is not None:
            return problem
    return None


def warn_once(location: Location, problem: ShardProblem) -> None:
    """Log a damaged shard once per process (readers are opened many times per command)."""
    key = (location.uri, problem.shard_id, problem.reason)
    if key not in _warned:
        _warned.add(key)
        action = "re-run the stage that wrote it" if problem.rewrite else "upgrade stylemotion"
        logger.warning("left out shard %s (%s)", problem.describe(), action)
