"""The report's content as typed records: what each section of the page is drawn from.

Owns `Figure`, `Preview`, `StylizeSection`, `EvaluationTable`, `DatasetSection`, `Checksum`,
`RunCard` and `ReportContent`. The readers (`flows.report.stylized`, `flows.report.evaluation`,
`flows.report.runs`) fill them from the files on disk; `flows.report.page` turns them into HTML.
Paths point at the original files; the page builder copies them next to the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flows.report.inputs import ReportInput
from storage.scene_summary import LabellerSummary
from storage.summary import DatasetSummary, VideoSummary

Facts = tuple[tuple[str, str], ...]  # (name, value) pairs shown as a small definition list


@dataclass(frozen=True)
class Figure:
    """A PNG made by a stage (strength sweep, style PCA) and what it shows."""

    image: Path
    caption: str


@dataclass(frozen=True)
class Preview:
    """One side-by-side preview video (source | stylized) with the settings it was made with."""

    video: Path
    clip_id: str
    facts: Facts


@dataclass(frozen=True)
class StylizeSection:
    """A stylize output: its previews (at most a page's worth), counts and failure reasons."""

    source: ReportInput
    previews: tuple[Preview, ...]
    preview_count: int
    clips: int | None  # stylized clips in the output's shards (None: no readable shards)
    bvh_files: int
    failures_by_kind: dict[str, int]
    settings: dict[str, str]  # provenance every clip shares ("several: ..." where they differ)


@dataclass(frozen=True)
class EvaluationTable:
    """One evaluate report: every stylizer's row, the real data's row last."""

    source: ReportInput
    report_file: Path
    columns: tuple[str, ...]
    rows: tuple[dict, ...]
    facts: Facts


@dataclass(frozen=True)
class DatasetSection:
    """A dataset root in numbers (`storage.summary`, `storage.scene_summary`: `inspect`'s)."""

    source: ReportInput
    summary: DatasetSummary
    videos: VideoSummary | None
    scenes: tuple[LabellerSummary, ...]


@dataclass(frozen=True)
class Checksum:
    """The sha256 of a checkpoint (computed here, or as recorded where the file is elsewhere)."""

    file: str
    sha256: str
    note: str = ""


@dataclass(frozen=True)
class RunCard:
    """A run's settings (pretty JSON), its checkpoints' checksums and its own scalar numbers."""

    source: ReportInput
    config_json: str
    checksums: tuple[Checksum, ...]
    metrics: Facts = ()


@dataclass
class ReportContent:
    """Everything the page shows; an empty list is a section "not in these runs"."""

    inputs: list[ReportInput]
    stylized: list[StylizeSection] = field(default_factory=list)
    evaluations: list[EvaluationTable] = field(default_factory=list)
    sweeps: list[Figure] = field(default_factory=list)
    embeddings: list[Figure] = field(default_factory=list)
    datasets: list[DatasetSection] = field(default_factory=list)
    runs: list[RunCard] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # parts that could not be read, and why
