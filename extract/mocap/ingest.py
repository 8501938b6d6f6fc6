"""Ingest a directory of style-labelled BVH files into clip shards.

Owns the mocap input path of the pipeline: find the BVH files (recursively, sorted), plan
deterministic shards over their relative paths, and for each shard not yet done import every
file (`extract.mocap.bvh_import`), attach labels (`extract.mocap.labels`) and a split, and write the
shard (`storage.shard_writer`). A bad file becomes a `FailureRecord` with the file and the reason
and never stops the rest; a killed ingest re-run finishes the missing shards only. `ingest_shard`
is the unit an orchestrator fans out; `ingest_mocap` runs them all in this process.

Global settings are checked before any file is touched (`MocapIngestConfig.validate`). The
settings that shape a clip (importer version, scale, joint map, label source, split rule,
dataset name, licence) are hashed into the shard ids and recorded in each done-marker, so
re-ingesting with a changed setting derives new shards and then removes the old ones, never
keeping stale clips.
A shard whose every file failed for one and the same reason is a setting or environment
problem, not a bad file: it raises instead of being marked done.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from tqdm import tqdm

from extract.mocap.bvh_import import EXTRACTOR_VERSION, MocapImportError, import_bvh, load_joint_map
from extract.mocap.dataset_guard import check_dataset_source, own_shard_pattern
from extract.mocap.labels import (
    LABEL_FILES,
    ClipLabels,
    JsonIndexLabels,
    LabelError,
    PatternLabels,
    find_label_config,
    unlabelled_layout_warning,
)
from extract.mocap.style_vocabulary import load_style_vocabulary
from storage.errors import UserInputError, cut_message
from storage.filesystem import Location, ensure_writable, open_location
from storage.records import FailureRecord, MotionClip, make_clip_id
from storage.shard_reader import ClipFilter, ShardReader
from storage.shard_writer import (
    ShardPlan,
    is_shard_done,
    plan_shards,
    remove_shard,
    settings_identity,
    write_shard,
)
from storage.splits import SplitRule

logger = logging.getLogger(__name__)

STAGE = "ingest-mocap"
UNREADABLE_DIR_SUFFIX = "/"  # inputs ending with this are directories the walk could not read


class IngestError(UserInputError, RuntimeError):
    """The ingest as a whole cannot start (e.g. the source directory is missing)."""


class UniformFailureError(RuntimeError):
    """Every file of a shard failed for the same reason: not the files' fault, not done."""


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
    test_content_takes: tuple[tuple[str, str], ...] = ()
    style_vocabulary: str | None = None  # YAML file; None: extract/mocap/style_vocabulary.yaml
    test_fraction: float = 0.0  # held-out takes of the other contents, by clip-id hash
    joint_map: str | None = None  # YAML/JSON `canonical: source` file; wins over detection
    only_files: tuple[str, ...] = ()  # relative paths under src_dir: ingest these alone

    @property
    def dataset_name(self) -> str:
        return self.dataset or Path(self.src_dir).resolve().name

    @property
    def split_rule(self) -> SplitRule:
        return SplitRule(
            self.test_contents, self.test_content_takes, self.val_fraction, self.test_fraction
        )

    @property
    def source_prefix(self) -> str:
        """What every shard id of this dataset starts with, whatever the settings."""
        return f"mocap-{self.dataset_name}"

    def validate(self) -> None:
        """Refuse settings no file could be ingested with, before any file is touched."""
        source = _resolved_source(self.src_dir)
        if not isinstance(self.shard_size, int) or self.shard_size < 1:
            raise IngestError(f"--shard-size {self.shard_size}: must be an integer >= 1")
        if self.scale is not None and not (math.isfinite(self.scale) and self.scale > 0):
            raise IngestError(f"--scale {self.scale}: must be a finite number > 0")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}", self.dataset_name):
            raise IngestError(
                f"dataset name {self.dataset_name[:100]!r}: use letters, digits and _.+- "
                "(at most 100 characters; give --dataset)"
            )
        self.split_rule  # noqa: B018 (raises SplitRuleError on a bad rule)
        load_style_vocabulary(self.style_vocabulary)  # a bad file: one line, before any work
        if self.label_pattern is not None:
            PatternLabels(self.label_pattern)
        if self.joint_map is not None:
            load_joint_map(self.joint_map)  # a bad map: one line, before any work
        find_mocap_inputs(source)  # a missing or unreadable directory


@dataclass
class IngestSummary:
    inputs: int = 0
    shards_written: int = 0
    shards_skipped: int = 0
    shards_superseded: int = 0
    clips: int = 0
    frames: int = 0
    failures: int = 0
    shard_errors: list[str] = field(default_factory=list)
    unlabelled: int = 0  # clips of this dataset without a style label (whole root, after the run)
    style_names: dict[str, str] = field(default_factory=dict)  # dataset's own -> shared name
    label_warning: str | None = None


def _resolved_source(src_dir: str) -> Path:
    try:
        return Path(src_dir).expanduser().resolve(strict=False)
    except (RuntimeError, OSError) as error:  # a symlink loop
        raise IngestError(f"{src_dir}: not a readable directory ({error})") from error


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
        self.src_dir = _resolved_source(config.src_dir)
        self.licence = config.licence if config.licence is not None else read_licence(self.src_dir)
        self.pattern = PatternLabels(config.label_pattern) if config.label_pattern else None
        cfg_dir = find_label_config(self.src_dir)
        self.cfg_dir = cfg_dir if not self.pattern else None
        self.json_labels = JsonIndexLabels(cfg_dir) if self.cfg_dir else None
        self.vocabulary = load_style_vocabulary(config.style_vocabulary)
        self.joint_map = load_joint_map(config.joint_map) if config.joint_map else None

    def settings(self) -> dict[str, object]:
        """The settings that shape this source's clips (their digest is in the shard ids)."""
        settings: dict[str, object] = {
            "stage": STAGE,
            "importer": EXTRACTOR_VERSION,
            "dataset": self.config.dataset_name,
            "source": str(self.src_dir),
            "scale": self.config.scale,
            "labels": self._label_source(),
            "style_vocabulary": self.vocabulary.digest,
            "licence": self.licence,
            "split": self.config.split_rule.as_settings(),
        }
        if self.config.joint_map is not None:  # absent otherwise: older shard ids stay valid
            digest = hashlib.sha1(Path(self.config.joint_map).read_bytes()).hexdigest()[:10]
            settings["joint_map"] = digest  # the content: editing the map re-derives the shards
        return settings

    def _label_source(self) -> str:
        if self.pattern is not None:
            return f"pattern:{self.config.label_pattern}"
        if self.cfg_dir is not None:
            digest = hashlib.sha1()
            for name in LABEL_FILES:
                digest.update((self.cfg_dir / name).read_bytes())
            return f"json-index:{digest.hexdigest()[:10]}"
        return "none"

    def label_warning(self, inputs: list[str]) -> str | None:
        """Why the clips will carry no labels although label files are there, or None."""
        if self.pattern is not None or self.json_labels is not None:
            return None
        json_files = sum(
            (self.src_dir / relative).with_suffix(".json").is_file()
            for relative in inputs
            if not relative.endswith(UNREADABLE_DIR_SUFFIX)
        )
        return unlabelled_layout_warning(self.src_dir, json_files)

    def plan(self, inputs: list[str]) -> list[ShardPlan]:
        settings_json, digest = settings_identity(self.settings())
        prefix = f"{self.config.source_prefix}-{digest}"
        return plan_shards(inputs, self.config.shard_size, prefix, settings_json)

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
        split = self.config.split_rule.split_of(clip_id, labels.content, labels.take)
        shared_style = self.vocabulary.shared_name(self.config.dataset_name, labels.style)
        clip = import_bvh(
            self.src_dir / relative,
            dataset=self.config.dataset_name,
            source_key=relative,
            style=shared_style,
            content=labels.content,
            take=labels.take,
            licence=self.licence,
            split=split,
            scale=self.config.scale,
            joint_map=self.joint_map,
        )
        if labels.style != shared_style:
            clip = replace(clip, style_original=labels.style)
        return clip

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
    if not clips:
        raise_if_uniform_failure(plan, failures, ingester.src_dir)
    stats = write_shard(location, plan, clips, failures)
    return stats.num_clips, stats.num_frames, stats.num_failures


def raise_if_uniform_failure(plan: ShardPlan, failures: list[FailureRecord], src: Path) -> None:
    """Refuse to mark done a shard of 2+ files that all failed for one unexpected reason.

    A typed per-file failure (a bad BVH, a bad label) is the file's fault and is recorded; an
    unexpected error met by every file alike is a setting, environment or code fault, and a
    shard marked done under it would stay empty after the fault is fixed.
    """
    if len(failures) < 2 or not all(f.error_kind.startswith("Unexpected") for f in failures):
        return
    reasons = {
        (f.error_kind, f.message.replace(str(src / relative), "<file>"))
        for f, relative in zip(failures, plan.inputs, strict=True)
    }
    if len(reasons) == 1:
        kind, message = reasons.pop()
        raise UniformFailureError(
            f"shard {plan.shard_id}: all {len(failures)} files failed with the same reason "
            f"([{kind}] {cut_message(message, 300)}); a setting, the environment or a bug is at "
            "fault, so the shard is not marked done"
        )


def remove_superseded_shards(location: Location, plans: list[ShardPlan], prefix: str) -> int:
    """Delete finished shards of this source (`prefix`) that the current plan does not hold.

    Call it only once every planned shard is done, so no clip is ever missing in between.
    """
    planned = {plan.shard_id for plan in plans}
    own_id = own_shard_pattern(prefix)
    reader = ShardReader(location)
    finished = set(reader.shard_ids()) | {p.shard_id for p in reader.damaged_shards()}
    stale = [
        shard_id
        for shard_id in sorted(finished)
        if own_id.fullmatch(shard_id) and shard_id not in planned
    ]
    for shard_id in stale:
        logger.info("removing superseded shard %s", shard_id)
        remove_shard(location, shard_id)
    return len(stale)


@dataclass
class MocapIngestJob:
    """The plan of one ingest, shared by the command line and the flow (one driver).

    `plans` are every shard of the source, `pending` those not done (a damaged one counts as
    not done); each pending shard is `run_mocap_shard`; `finish_mocap_ingest` then removes
    superseded shards, only when none failed.
    """

    config: MocapIngestConfig
    ingester: MocapIngester
    location: Location
    inputs: list[str]
    plans: list[ShardPlan]
    pending: list[ShardPlan]
    label_warning: str | None


def _chosen(inputs: list[str], config: MocapIngestConfig) -> list[str]:
    """`inputs` narrowed to `config.only_files` when set (each must be there)."""
    if not config.only_files:
        return inputs
    missing = sorted(set(config.only_files) - set(inputs))
    if missing:
        raise IngestError(f"{config.src_dir}: no BVH file {missing[0]} under it")
    return [name for name in inputs if name in set(config.only_files)]


def plan_mocap_ingest(config: MocapIngestConfig) -> MocapIngestJob:
    """Check the settings and the root (before any file is read), then plan the shards."""
    config.validate()
    ensure_writable(config.out_root)
    ingester = MocapIngester(config)
    location = open_location(config.out_root)
    check_dataset_source(location, STAGE, config.dataset_name, str(ingester.src_dir))
    inputs = _chosen(find_mocap_inputs(ingester.src_dir), config)
    plans = ingester.plan(inputs)
    pending = [plan for plan in plans if not is_shard_done(location, plan.shard_id)]
    warning = ingester.label_warning(inputs)
    return MocapIngestJob(config, ingester, location, inputs, plans, pending, warning)


def run_mocap_shard(config: MocapIngestConfig, plan: ShardPlan) -> dict[str, int]:
    """Import and write one shard (the unit a flow maps over); its counts."""
    clips, frames, failures = ingest_shard(
        MocapIngester(config), open_location(config.out_root), plan
    )
    return {"clips": clips, "frames": frames, "failures": failures}


def finish_mocap_ingest(job: MocapIngestJob, any_failed: bool) -> int:
    """Remove superseded shards once every planned shard is done; how many went."""
    if any_failed:  # outdated shards go only once their replacements are done
        return 0
    return remove_superseded_shards(job.location, job.plans, job.config.source_prefix)


def ingest_mocap(
    config: MocapIngestConfig,
    show_progress: bool = False,
    on_shard_done: Callable[[ShardPlan], None] | None = None,
) -> IngestSummary:
    """Ingest every BVH file under `config.src_dir` into shards under `config.out_root`."""
    job = plan_mocap_ingest(config)
    summary = IngestSummary(inputs=len(job.inputs), label_warning=job.label_warning)
    if job.label_warning:  # the command line prints it as a warning with its summary
        logger.info("%s", job.label_warning)
    pending = {plan.shard_id for plan in job.pending}
    progress = tqdm(total=len(job.inputs), unit="file", desc=STAGE, disable=not show_progress)
    for plan in job.plans:
        if plan.shard_id not in pending:
            summary.shards_skipped += 1
        else:
            try:
                counts = run_mocap_shard(config, plan)
            except UniformFailureError as error:
                logger.error("%s", error)
                summary.shard_errors.append(str(error))
            else:
                summary.shards_written += 1
                summary.clips += counts["clips"]
                summary.frames += counts["frames"]
                summary.failures += counts["failures"]
        progress.update(len(plan.inputs))
        if on_shard_done is not None:
            on_shard_done(plan)
    progress.close()
    summary.shards_superseded = finish_mocap_ingest(job, bool(summary.shard_errors))
    _summarise_labels(summary, job)
    return summary


def _summarise_labels(summary: IngestSummary, job: MocapIngestJob) -> None:
    dataset = job.config.dataset_name
    labels = ShardReader(job.location).labels(ClipFilter(dataset=dataset))
    summary.unlabelled = labels["style"].null_count
    pairs = zip(labels["style_original"].to_pylist(), labels["style"].to_pylist(), strict=True)
    summary.style_names = dict(sorted({(own, shared) for own, shared in pairs if own}))
