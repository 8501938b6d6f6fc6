"""Reading finished shards: streaming clips with label filters, listing labels, failures, stats.

Only shards with a done-marker exist for the reader; temporary files and shards whose writer was
interrupted are invisible. A shard whose files no longer match its marker (missing, truncated,
an unreadable footer, a schema version this code does not know) is left out with one warning
and listed by `damaged_shards`, so every intact shard stays readable
(`storage.shard_health`). Every file's schema metadata is checked before its rows are read
(`storage.schema.check_schema_metadata`). Clips stream record batch by record batch through
`pyarrow.dataset` with the filters pushed down, so memory follows the batch size, not the
dataset size.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from storage.filesystem import Location, open_location
from storage.records import FailureRecord, MotionClip, ShardStats
from storage.scene_schema import SCENE_LABEL_COLUMNS
from storage.schema import (
    CLIP_LABEL_COLUMNS,
    CLIPS_TABLE,
    FAILURES_TABLE,
    SCENES_TABLE,
    check_schema_metadata,
    table_to_clips,
    table_to_failures,
)
from storage.shard_health import ShardProblem, read_marker, shard_problem, warn_once
from storage.shard_writer import DONE_DIR, TEMP_PREFIX
from storage.tables import TABLE_SCHEMAS

FilterValue = str | Iterable[str] | None
# (root uri, shard id, stat of its marker and files) -> the check's result, shared by readers
_HEALTH_CACHE: dict[tuple, ShardProblem | None] = {}


class ClipNotFoundError(KeyError):
    """No finished shard holds the requested clip id."""


@dataclass(frozen=True)
class ClipFilter:
    """Label filters; each is one value or a collection of accepted values (None: any)."""

    style: FilterValue = None
    content: FilterValue = None
    dataset: FilterValue = None
    split: FilterValue = None
    clip_id: FilterValue = None

    def expression(self) -> ds.Expression | None:
        terms = []
        for name in ("style", "content", "dataset", "split", "clip_id"):
            value = getattr(self, name)
            if value is None:
                continue
            accepted = [value] if isinstance(value, str) else sorted(value)
            terms.append(pc.field(name).isin(accepted))
        return functools.reduce(operator.and_, terms) if terms else None


class ShardReader:
    """Reader over the finished shards under a dataset root (local path or URI)."""

    def __init__(self, root: str | Location) -> None:
        self.location = root if isinstance(root, Location) else open_location(root)

    def shard_ids(self, table: str | None = None) -> list[str]:
        """Finished, intact shards, all of them or those that wrote `table`."""
        problems = self._check_shards()
        done = [shard_id for shard_id, problem in problems.items() if problem is None]
        if table is None:
            return done
        return sorted(set(done) & set(self._stat_files(table, ".parquet")))

    def damaged_shards(self) -> list[ShardProblem]:
        """Shards with a done-marker that cannot be read as it says (left out of every read)."""
        return [problem for problem in self._check_shards().values() if problem is not None]

    def _check_shards(self) -> dict[str, ShardProblem | None]:
        markers = self._stat_files(DONE_DIR, ".json")
        files = {table: self._stat_files(table, ".parquet") for table in TABLE_SCHEMAS}
        problems: dict[str, ShardProblem | None] = {}
        for shard_id, marker_stat in markers.items():
            file_stats = tuple((t, found.get(shard_id)) for t, found in files.items())
            key = (self.location.uri, shard_id, marker_stat, file_stats)
            if key not in _HEALTH_CACHE:
                _HEALTH_CACHE[key] = shard_problem(self.location, shard_id)
            problems[shard_id] = _HEALTH_CACHE[key]
            if problems[shard_id] is not None:
                warn_once(self.location, problems[shard_id])
        return problems

    def _stat_files(self, directory: str, suffix: str) -> dict[str, tuple[int, int]]:
        """{name without suffix: (size, mtime ns)} of the finished files in `directory`."""
        selector = pafs.FileSelector(self.location.join(directory), allow_not_found=True)
        found = {}
        for info in self.location.filesystem.get_file_info(selector):
            name = info.base_name
            finished = name.endswith(suffix) and not name.startswith(TEMP_PREFIX)
            if info.type == pafs.FileType.File and finished:
                found[name[: -len(suffix)]] = (info.size or 0, info.mtime_ns or 0)
        return dict(sorted(found.items()))

    def stats(self) -> list[ShardStats]:
        """The done-markers of the intact shards."""
        return [read_marker(self.location, shard_id) for shard_id in self.shard_ids()]

    def dataset(self, table: str) -> ds.Dataset:
        """A pyarrow dataset over the finished shards of `table`, schema versions checked."""
        paths = [self.location.join(table, f"{s}.parquet") for s in self.shard_ids(table)]
        dataset = ds.dataset(
            paths,
            schema=TABLE_SCHEMAS[table],
            format="parquet",
            filesystem=self.location.filesystem,
        )
        for fragment in dataset.get_fragments():
            check_schema_metadata(fragment.physical_schema.metadata, table, fragment.path)
        return dataset

    def read_shard(
        self, table: str, shard_id: str, columns: Iterable[str] | None = None
    ) -> pa.Table:
        """One finished shard's `table` (all columns or `columns`), schema version checked."""
        if shard_id not in self.shard_ids(table):
            raise KeyError(f"no finished '{table}' shard {shard_id} in {self.location.uri}")
        path = self.location.join(table, f"{shard_id}.parquet")
        parquet = pq.ParquetFile(path, filesystem=self.location.filesystem)
        check_schema_metadata(parquet.schema_arrow.metadata, table, path)
        wanted = list(columns) if columns is not None else TABLE_SCHEMAS[table].names
        present = set(parquet.schema_arrow.names)
        result = parquet.read(columns=[name for name in wanted if name in present])
        for name in wanted:  # a column newer than the file (an older schema version): nulls
            if name not in present:
                field = TABLE_SCHEMAS[table].field(name)
                result = result.append_column(field, pa.nulls(result.num_rows, field.type))
        return result.select(wanted)

    def iter_clips(
        self, where: ClipFilter | None = None, batch_size: int = 32
    ) -> Iterator[MotionClip]:
        """Stream the clips that match `where`, `batch_size` clips in memory at a time."""
        expression = where.expression() if where else None
        scanner = self.dataset(CLIPS_TABLE).scanner(filter=expression, batch_size=batch_size)
        for batch in scanner.to_batches():
            if batch.num_rows:
                yield from table_to_clips(batch)

    def labels(self, where: ClipFilter | None = None) -> pa.Table:
        """The label columns (no arrays) of the matching clips, as one small table."""
        expression = where.expression() if where else None
        return self.dataset(CLIPS_TABLE).to_table(
            columns=list(CLIP_LABEL_COLUMNS), filter=expression
        )

    def get_clip(self, clip_id: str) -> MotionClip:
        for clip in self.iter_clips(ClipFilter(clip_id=clip_id)):
            return clip
        raise ClipNotFoundError(
            f"no clip '{clip_id}' in the finished shards of {self.location.uri}"
        )

    def failures(self) -> list[FailureRecord]:
        return table_to_failures(self.dataset(FAILURES_TABLE).to_table())

    def scenes(
        self, labeller_id: str | None = None, columns: Iterable[str] | None = None
    ) -> pa.Table:
        """Scene labels (one row per clip and labeller), of one labeller or all; empty if none.

        `columns` None reads every column, keyframe images included; pass
        `SCENE_LABEL_COLUMNS` for the small ones.
        """
        names = list(columns) if columns is not None else None
        if not self.shard_ids(SCENES_TABLE):
            return TABLE_SCHEMAS[SCENES_TABLE].empty_table().select(names or [])
        expression = pc.field("labeller_id") == labeller_id if labeller_id else None
        return self.dataset(SCENES_TABLE).to_table(columns=names, filter=expression)

    def labels_with_scenes(self, labeller_id: str, where: ClipFilter | None = None) -> pa.Table:
        """`labels(where)` with one labeller's scene columns joined on clip_id (null: none).

        The scene columns are prefixed `scene_`: `scene_label` replaces the clips table's own
        (unused) column, `scene_caption`, `scene_confidence`, ... sit beside it.
        """
        scenes = self.scenes(labeller_id, columns=SCENE_LABEL_COLUMNS).drop_columns(
            ["labeller_id", "labelled_at"]
        )
        scene_columns = {name: f"scene_{name}" for name in scenes.column_names if name != "clip_id"}
        scenes = scenes.rename_columns([scene_columns.get(n, n) for n in scenes.column_names])
        labels = self.labels(where).drop_columns(["scene_label"])
        return labels.join(scenes, "clip_id", join_type="left outer")
