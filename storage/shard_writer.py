"""Writing shards so that no reader ever sees half of one, and re-runs redo only what is missing.

Layout under a dataset root: one directory per table (`storage.tables.TABLE_SCHEMAS`), e.g.

    clips/<shard_id>.parquet       MotionClip rows (CLIPS_SCHEMA), zstd
    failures/<shard_id>.parquet    FailureRecord rows (FAILURES_SCHEMA)
    _done/<shard_id>.json          ShardStats: the done-marker, written last

A shard writes one or more tables (a pose shard: poses + failures). Each file is written under
a temporary name (`.tmp-<shard_id>-<random>`), closed, then renamed; only after all of the
shard's tables are in place is the done-marker written (also temp + rename). A shard
without a marker does not exist for readers and is redone by the next run. Shard ids come from
the sorted inputs (`plan_shards`), so the same inputs always give the same shards and a re-run
skips the finished ones. Correctness never depends on an orchestrator's cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from storage.filesystem import Location
from storage.records import FailureRecord, MotionClip, ShardStats
from storage.schema import (
    CLIPS_TABLE,
    FAILURES_TABLE,
    SCHEMA_VERSIONS,
    clips_to_table,
    failures_to_table,
)
from storage.shard_health import DONE_DIR, done_marker_path, shard_problem
from storage.tables import TABLE_SCHEMAS, parquet_write_options

logger = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"
ROW_GROUP_CLIPS = 64  # clips per row group: the unit a filtered reader skips or streams


@dataclass(frozen=True)
class ShardPlan:
    """One shard to produce: its deterministic id and the inputs it covers, sorted."""

    shard_id: str
    inputs: tuple[str, ...]
    settings_json: str = ""  # the stage settings that shaped it, recorded in its done-marker


def settings_identity(settings: Mapping[str, object]) -> tuple[str, str]:
    """(canonical JSON, 8-hex digest) of the settings that shape a stage's shards.

    A stage puts the digest in its shard ids, so a changed setting gives new shards (derived
    anew) instead of silently keeping shards made under the old one.
    """
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return text, hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def plan_shards(
    inputs: Sequence[str], shard_size: int, prefix: str, settings_json: str = ""
) -> list[ShardPlan]:
    """Cut the sorted, de-duplicated inputs into shards of `shard_size` with stable ids.

    The id is `<prefix>-<index>-<hash of the member inputs>`: the same inputs give the same ids
    in every run; a changed input set gives new ids for the shards whose members changed.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    ordered = sorted(set(inputs))
    plans = []
    for index, start in enumerate(range(0, len(ordered), shard_size)):
        members = tuple(ordered[start : start + shard_size])
        digest = hashlib.sha1("\n".join(members).encode("utf-8")).hexdigest()[:10]
        plans.append(ShardPlan(f"{prefix}-{index:05d}-{digest}", members, settings_json))
    return plans


def is_shard_done(location: Location, shard_id: str) -> bool:
    """True when the shard's done-marker exists and its files are as the marker says.

    A damaged shard (file missing, truncated, unreadable footer, row count off) is not done, so
    the stage that wrote it rewrites it; one written by a newer stylemotion stays done.
    """
    if not location.exists(done_marker_path(location, shard_id)):
        return False
    problem = shard_problem(location, shard_id)
    return problem is None or not problem.rewrite


def _write_table_atomically(location: Location, table: pa.Table, directory: str, name: str) -> int:
    """Write `table` to `directory/name` via a temporary file and a rename; return its bytes."""
    location.filesystem.create_dir(location.join(directory), recursive=True)
    final_path = location.join(directory, name)
    temp_path = location.join(directory, f"{TEMP_PREFIX}{name}-{uuid.uuid4().hex[:8]}")
    pq.write_table(
        table,
        temp_path,
        filesystem=location.filesystem,
        row_group_size=ROW_GROUP_CLIPS,
        **parquet_write_options(directory),
    )
    location.filesystem.move(temp_path, final_path)
    return location.file_size(final_path)


def _write_done_marker(location: Location, stats: ShardStats) -> None:
    location.filesystem.create_dir(location.join(DONE_DIR), recursive=True)
    payload = json.dumps(asdict(stats), indent=2, sort_keys=True).encode("utf-8")
    final_path = done_marker_path(location, stats.shard_id)
    temp_path = location.join(DONE_DIR, f"{TEMP_PREFIX}{stats.shard_id}-{uuid.uuid4().hex[:8]}")
    location.write_bytes(temp_path, payload)
    location.filesystem.move(temp_path, final_path)


def write_table_shard(
    location: Location, plan: ShardPlan, tables: Mapping[str, pa.Table], num_frames: int
) -> ShardStats:
    """Write every table of one shard atomically, then its done-marker; return the stats.

    A stale marker (of a damaged shard being rewritten) goes first, so no reader ever pairs
    it with the new files.
    """
    remove_shard_temporaries(location, plan.shard_id, tables)
    marker = done_marker_path(location, plan.shard_id)
    if location.exists(marker):
        location.filesystem.delete_file(marker)
    name = f"{plan.shard_id}.parquet"
    table_bytes = {
        table_name: _write_table_atomically(location, table, table_name, name)
        for table_name, table in tables.items()
    }
    stats = ShardStats(
        shard_id=plan.shard_id,
        rows={table_name: table.num_rows for table_name, table in tables.items()},
        schema_versions={table_name: SCHEMA_VERSIONS[table_name] for table_name in tables},
        num_inputs=len(plan.inputs),
        num_frames=num_frames,
        bytes_written=sum(table_bytes.values()),
        inputs=plan.inputs,
        table_bytes=table_bytes,
        settings_json=plan.settings_json,
    )
    _write_done_marker(location, stats)
    logger.info("shard %s done: %s", plan.shard_id, stats.rows)
    return stats


def write_shard(
    location: Location,
    plan: ShardPlan,
    clips: Sequence[MotionClip],
    failures: Sequence[FailureRecord],
) -> ShardStats:
    """Write one shard of clips and the failures met making them."""
    tables = {CLIPS_TABLE: clips_to_table(clips), FAILURES_TABLE: failures_to_table(failures)}
    return write_table_shard(location, plan, tables, sum(clip.num_frames for clip in clips))


def remove_shard_temporaries(
    location: Location, shard_id: str, tables: Iterable[str] = TABLE_SCHEMAS
) -> None:
    """Delete leftovers of an interrupted write of this shard (temporary files only)."""
    for directory in (*tables, DONE_DIR):
        for path in location.list_files(location.join(directory)):
            if path.rsplit("/", 1)[-1].startswith(f"{TEMP_PREFIX}{shard_id}"):
                location.filesystem.delete_file(path)


def remove_shard(location: Location, shard_id: str) -> None:
    """Delete a shard: its done-marker first, so readers stop seeing it before its data goes."""
    marker = done_marker_path(location, shard_id)
    if location.exists(marker):
        location.filesystem.delete_file(marker)
    for directory in TABLE_SCHEMAS:
        path = location.join(directory, f"{shard_id}.parquet")
        if location.exists(path):
            location.filesystem.delete_file(path)
