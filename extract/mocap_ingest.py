"""Ingest a directory of style-labelled BVH files into clip shards.

Owns the mocap input path of the pipeline: find the BVH files (recursively, sorted), plan
deterministic shards over their relative paths, and for each shard not yet done import every
file (`extract.bvh_import`), attach labels (`extract.mocap_labels`) and a split, and write the
shard (`storage.shard_writer`). A bad file becomes a `FailureRecord` with the file and the reason
and never stops the rest; a killed ingest re-run finishes the missing shards only. `ingest_shard`
is the unit an orchestrator fans out; `ingest_mocap` runs them all in this process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from extract.bvh_import import MocapImportError, import_bvh
from extract.mocap_labels import (
    ClipLabels,
    JsonIndexLabels,
    LabelError,
    PatternLabels,
    find_label_config,
)
from storage.filesystem import Location, open_location
from storage.records import FailureRecord, MotionClip, make_clip_id
from storage.shard_reader import ShardReader
from storage.shard_writer import ShardPlan, is_shard_done, plan_shards, remove_shard, write_shard
from storage.splits import assign_split

logger = logging.getLogger(__name__)

STAGE = "ingest-mocap"
UNREADABLE_DIR_SUFFIX = "/"  # inputs ending with this are directories the walk could not read


class IngestError(RuntimeError):
    """The ingest as a whole cannot start (e.g. the source directory is missing)."""


@dataclass(frozen=True)
class MocapIngestConfig:
    """Everything `ingest-mocap` needs; also the Prefect flow's parameters."""

    src_dir: str
    out_root: str
    dataset: str | None = None
    label_pattern: str | None = None
    licence: str | None = None
    shard_size: int = 32
    test_contents: tuple[str, ...] = ()
    val_fraction: float = 0.0
    scale: float | None = None

    @property
    def dataset_name(self) -> str:
        return self.dataset or Path(self.src_dir).resolve().name

    @property
    def shard_prefix(self) -> str:
        return f"mocap-{self.dataset_name}"


@dataclass
class IngestSummary:
    inputs: int = 0
    shards_written: int = 0
    shards_skipped: int = 0
    shards_superseded: int = 0
    clips: int = 0
    frames: int = 0
    failures: int = 0


def find_mocap_inputs(src_dir: Path) -> list[str]:
    """Relative posix paths of the BVH files under `src_dir`, plus unreadable directories.

    Directories whose names start with `_` or `.` are skipped.
    """
    if not src_dir.is_dir():
        raise IngestError(f"{src_dir}: not a readable directory")
    if not os.access(src_dir, os.R_OK | os.X_OK):
        raise IngestError(f"{src_dir}: permission denied")
    found: list[str] = []

    def record_unreadable(error: OSError) -> None:
        relative = Path(error.filename).relative_to(src_dir).as_posix()
        found.append(relative + UNREADABLE_DIR_SUFFIX)

    for directory, subdirs, files in os.walk(src_dir, onerror=record_unreadable):
        # `_meta`, `.git` and the like hold metadata (e.g. m21's T-pose file), not clips.
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(("_", ".")))
        for name in files:
            if name.lower().endswith(".bvh"):
                found.append((Path(directory) / name).relative_to(src_dir).as_posix())
    return sorted(found)


def read_licence(src_dir: Path) -> str:
    """First non-empty line of the licence file shipped with the data, or ''."""
    for candidate in [src_dir / "_meta" / "LICENSE", *sorted(src_dir.glob("LICENSE*"))]:
        if candidate.is_file():
            for line in candidate.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.strip():
                    return line.strip()
    return ""


class MocapIngester:
    """Imports the files of one source directory; one instance per ingest run or worker."""

    def __init__(self, config: MocapIngestConfig) -> None:
        self.config = config
        self.src_dir = Path(config.src_dir).resolve()
        self.licence = config.licence if config.licence is not None else read_licence(self.src_dir)
        self.pattern = PatternLabels(config.label_pattern) if config.label_pattern else None
        cfg_dir = find_label_config(self.src_dir)
        self.json_labels = JsonIndexLabels(cfg_dir) if cfg_dir and not self.pattern else None

    def labels_for(self, relative: str) -> ClipLabels:
        if self.pattern is not None:
            return self.pattern.labels_for(relative.rsplit(".", 1)[0])
        if self.json_labels is not None:
            return self.json_labels.labels_for(self.src_dir / relative)
        return ClipLabels()

    def import_one(self, relative: str) -> MotionClip:
        if relative.endswith(UNREADABLE_DIR_SUFFIX):
            os.listdir(self.src_dir / relative)  # raises the OSError that names the reason
            raise IngestError(f"{self.src_dir / relative}: directory became readable mid-run")
        if not (self.src_dir / relative).is_file():
            raise IngestError(f"{self.src_dir / relative}: file missing or not a regular file")
        labels = self.labels_for(relative)
        clip_id = make_clip_id("mocap", self.config.dataset_name, relative)
        split = assign_split(
            clip_id, labels.content, self.config.test_contents, self.config.val_fraction
        )
        return import_bvh(
            self.src_dir / relative,
            dataset=self.config.dataset_name,
            source_key=relative,
            style=labels.style,
            content=labels.content,
            take=labels.take,
            licence=self.licence,
            split=split,
            scale=self.config.scale,
        )

    def process(self, relative: str) -> MotionClip | FailureRecord:
        """A clip, or the failure record naming the file and the reason."""
        try:
            return self.import_one(relative)
        except (MocapImportError, LabelError, IngestError, OSError) as error:
            return self.failure(relative, type(error).__name__, error)
        except Exception as error:  # a bug on odd input must not stop the batch either
            logger.exception("unexpected error importing %s", relative)
            return self.failure(relative, f"Unexpected{type(error).__name__}", error)

    def failure(self, relative: str, kind: str, error: Exception) -> FailureRecord:
        path = self.src_dir / relative
        message = str(error) if str(path) in str(error) else f"{path}: {error}"
        logger.warning("failed %s: %s", relative, message)
        return FailureRecord(
            source_uri=path.as_uri(),
            dataset=self.config.dataset_name,
            stage=STAGE,
            error_kind=kind,
            message=message,
        )


def ingest_shard(
    ingester: MocapIngester, location: Location, plan: ShardPlan
) -> tuple[int, int, int]:
    """Import and write one shard; returns (clips, frames, failures)."""
    results = [ingester.process(relative) for relative in plan.inputs]
    clips = [r for r in results if isinstance(r, MotionClip)]
    failures = [r for r in results if isinstance(r, FailureRecord)]
    stats = write_shard(location, plan, clips, failures)
    return stats.num_clips, stats.num_frames, stats.num_failures


def remove_superseded_shards(location: Location, plans: list[ShardPlan], prefix: str) -> int:
    """Delete finished shards of this source that the current plan no longer contains."""
    planned = {plan.shard_id for plan in plans}
    stale = [
        shard_id
        for shard_id in ShardReader(location).shard_ids()
        if shard_id.startswith(prefix + "-") and shard_id not in planned
    ]
    for shard_id in stale:
        logger.info("removing superseded shard %s", shard_id)
        remove_shard(location, shard_id)
    return len(stale)


def ingest_mocap(
    config: MocapIngestConfig,
    show_progress: bool = False,
    on_shard_done: Callable[[ShardPlan], None] | None = None,
) -> IngestSummary:
    """Ingest every BVH file under `config.src_dir` into shards under `config.out_root`."""
    ingester = MocapIngester(config)
    location = open_location(config.out_root)
    inputs = find_mocap_inputs(ingester.src_dir)
    plans = plan_shards(inputs, config.shard_size, config.shard_prefix)
    summary = IngestSummary(inputs=len(inputs))
    progress = tqdm(total=len(inputs), unit="file", desc=STAGE, disable=not show_progress)
    for plan in plans:
        if is_shard_done(location, plan.shard_id):
            summary.shards_skipped += 1
        else:
            clips, frames, failures = ingest_shard(ingester, location, plan)
            summary.shards_written += 1
            summary.clips, summary.frames = summary.clips + clips, summary.frames + frames
            summary.failures += failures
        progress.update(len(plan.inputs))
        if on_shard_done is not None:
            on_shard_done(plan)
    progress.close()
    summary.shards_superseded = remove_superseded_shards(location, plans, config.shard_prefix)
    return summary
