"""Run cards, embedding plots and dataset summaries of a report.

Owns `run_card` (a training run's `run.json` config, the sha256 of each checkpoint it holds,
checked against a recorded `<checkpoint>.sha256` when there is one, its own scalar numbers:
`eval/report_*.json`, `report.json`, the last line of `metrics.jsonl`), `stylize_card` and
`evaluation_card` (the settings and the checkpoint a stylize or evaluate output was made with),
`embedding_figures` (an encoder run's `eval/style_pca_<split>.png`) and `dataset_section` (the
`storage.summary` / `storage.scene_summary` numbers `stylemotion inspect` prints).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from flows.report.evaluation import is_scalar
from flows.report.inputs import RUN_CONFIG, ReportInput, RunKind, read_json_object
from flows.report.records import (
    Checksum,
    DatasetSection,
    EvaluationTable,
    Facts,
    Figure,
    RunCard,
    StylizeSection,
)
from storage.checksums import file_sha256
from storage.scene_summary import summarise_scenes
from storage.schema import SCENES_TABLE, VIDEOS_TABLE
from storage.shard_reader import ShardReader
from storage.summary import summarise_dataset, summarise_videos

READ_ERRORS = (OSError, ValueError, KeyError, pa.ArrowException)
MAX_METRICS = 40  # scalar numbers shown per run card


def _checksum(path: Path, note: str = "") -> Checksum:
    sha256 = file_sha256(path)
    recorded = path.with_name(path.name + ".sha256")
    if recorded.is_file():
        expected = recorded.read_text(encoding="utf-8").split()[:1]
        same = expected == [sha256]
        note = "matches the recorded sha256" if same else f"differs from {recorded.name}!"
    return Checksum(path.name, sha256, note)


def scalar_facts(values: dict, prefix: str = "") -> list[tuple[str, str]]:
    """The top-level numbers of a JSON report (per-key dicts of numbers flattened once)."""
    facts = []
    for name, value in values.items():
        if is_scalar(value) and value is not None:
            facts.append(
                (f"{prefix}{name}", f"{value:g}" if isinstance(value, float) else str(value))
            )
        elif (
            isinstance(value, dict)
            and value
            and all(is_scalar(v) and v is not None for v in value.values())
        ):
            facts += [(f"{prefix}{name}.{key}", f"{v:g}") for key, v in value.items()]
    return facts


def _last_metrics(run_dir: Path) -> list[tuple[str, str]]:
    path = run_dir / "metrics.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
        last = json.loads(lines[-1]) if lines else {}
    except (OSError, UnicodeDecodeError, ValueError):
        return []
    return scalar_facts(last, "last logged: ") if isinstance(last, dict) else []


def run_card(source: ReportInput) -> RunCard:
    """A training run's config, checkpoint checksums and numbers."""
    run_dir = source.path
    description = read_json_object(run_dir / RUN_CONFIG)
    config = description.get("config", description) if description else None
    config_json = json.dumps(config, indent=2, sort_keys=True) if config is not None else ""
    checksums = tuple(_checksum(path) for path in sorted(run_dir.glob("*.pt")))
    metrics = []
    for report_file in (*sorted(run_dir.glob("eval/report_*.json")), run_dir / "report.json"):
        report = read_json_object(report_file)
        if report is not None:
            metrics += scalar_facts(report, f"{report_file.stem}: ")
    metrics += _last_metrics(run_dir)
    return RunCard(source, config_json, checksums, tuple(metrics[:MAX_METRICS]))


def stylize_card(section: StylizeSection) -> RunCard:
    """The settings every stylized clip of an output records, and the run's checkpoint."""
    settings, checksums = section.settings, []
    run = Path(settings.get("run", ""))
    if settings.get("run") and (run / "last.pt").is_file():
        checksums.append(_checksum(run / "last.pt", f"the diffusion run used ({run})"))
    config_json = json.dumps(settings, indent=2, sort_keys=True) if settings else ""
    counts: Facts = (
        ("stylized clips", "?" if section.clips is None else str(section.clips)),
        ("BVH files", str(section.bvh_files)),
        ("preview videos", str(section.preview_count)),
    )
    return RunCard(section.source, config_json, tuple(checksums), counts)


def evaluation_card(source: ReportInput, tables: list[EvaluationTable]) -> RunCard:
    """The evaluation's settings and the frozen evaluator's checksum, as its reports record."""
    settings = {str(t.report_file.name): dict(t.facts) for t in tables}
    checksums = tuple(
        Checksum(
            Path(facts.get("evaluator", "evaluator")).name or "evaluator",
            facts["evaluator sha256"],
            f"recorded in {name}",
        )
        for name, facts in settings.items()
        if "evaluator sha256" in facts
    )
    return RunCard(source, json.dumps(settings, indent=2), checksums)


def embedding_figures(source: ReportInput) -> list[Figure]:
    """An encoder run's style PCA plots, one per evaluated split."""
    if source.kind is not RunKind.ENCODERS:
        return []
    return [
        Figure(png, f"style embeddings (PCA) of {source.name}, {png.stem.rsplit('_', 1)[-1]} split")
        for png in sorted(source.path.glob("eval/style_pca_*.png"))
    ]


def dataset_section(source: ReportInput, notes: list[str]) -> DatasetSection | None:
    """The numbers `stylemotion inspect` shows for a dataset root (None: unreadable, noted)."""
    try:
        reader = ShardReader(str(source.path))
        summary = summarise_dataset(reader)
        videos = summarise_videos(reader) if reader.shard_ids(VIDEOS_TABLE) else None
        scenes = tuple(summarise_scenes(reader)) if reader.shard_ids(SCENES_TABLE) else ()
    except READ_ERRORS as error:
        notes.append(f"{source.path}: dataset summary not readable ({error})")
        return None
    return DatasetSection(source, summary, videos, scenes)
