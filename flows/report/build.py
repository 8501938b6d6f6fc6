"""Writing the report: inputs in, one self-contained static page (`DIR/index.html`) out.

Owns `write_report(root, runs, out=None) -> ReportResult`, the plain function behind
`stylemotion report` and the pipeline's report step, `collect_report` (each input's kind asks
its reader for its part) and `AssetCopier`. Every file the page shows (preview mp4s, PNG plots)
is copied into `DIR/assets/` and referenced by a relative link, so the folder opens from disk,
moves as a whole and needs no server or network; the page has no script and no external
reference. `index.html` is written under a temporary name and renamed, so a reader never sees
half a page. Bad input (ROOT, a RUN, an unwritable DIR) is a `UserInputError` naming it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from flows.report.evaluation import read_evaluation
from flows.report.inputs import ReportInput, ReportInputError, RunKind, resolve_inputs
from flows.report.page import SECTIONS, render_page
from flows.report.records import ReportContent
from flows.report.runs import (
    dataset_section,
    embedding_figures,
    evaluation_card,
    run_card,
    stylize_card,
)
from flows.report.stylized import read_stylize_output
from storage.filesystem import UnwritableLocationError, ensure_writable

logger = logging.getLogger(__name__)

DEFAULT_DIR_NAME = "report"
ASSETS_DIR = "assets"
INDEX_NAME = "index.html"
TITLE = "stylemotion report"
_COPIED_NAME = re.compile(r"^\d{3}-")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ReportResult:
    """Where the page is, what it was made from and which sections had nothing to show."""

    index: Path
    inputs: tuple[ReportInput, ...]
    assets: int
    empty_sections: tuple[str, ...]
    notes: tuple[str, ...]


class AssetCopier:
    """Copies each shown file once into `out/assets/` and gives its page-relative URL.

    A file already under `out` (a plot drawn for the report) is linked where it is. A copy that
    fails is logged and answered with None, so the page says so rather than link nothing.
    """

    def __init__(self, out: Path) -> None:
        self.out = out.resolve()
        self.assets = self.out / ASSETS_DIR
        self.urls: dict[Path, str | None] = {}
        self.copied: set[str] = set()

    def __call__(self, path: Path) -> str | None:
        source = path.resolve()
        if source not in self.urls:
            self.urls[source] = self._place(source)
        return self.urls[source]

    def _place(self, source: Path) -> str | None:
        if source.is_relative_to(self.out):
            return quote(source.relative_to(self.out).as_posix())
        name = f"{len(self.copied):03d}-{_UNSAFE.sub('_', source.name)[-120:]}"
        target = self.assets / name
        try:
            self.assets.mkdir(parents=True, exist_ok=True)
            stat = source.stat()
            if not (target.is_file() and _same_file_stat(target.stat(), stat)):
                shutil.copy2(source, target)
        except OSError as error:
            logger.warning("report: cannot copy %s: %s", source, error)
            return None
        self.copied.add(name)
        return quote(f"{ASSETS_DIR}/{name}")

    def remove_stale(self) -> None:
        """Remove earlier copies this page no longer shows (only names this class writes)."""
        if not self.assets.is_dir():
            return
        for path in self.assets.iterdir():
            if _COPIED_NAME.match(path.name) and path.name not in self.copied and path.is_file():
                path.unlink(missing_ok=True)


def _same_file_stat(a: os.stat_result, b: os.stat_result) -> bool:
    return a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime)


def collect_report(inputs: Sequence[ReportInput], figure_dir: Path) -> ReportContent:
    """Every section's records from the inputs; unreadable parts become notes."""
    content = ReportContent(inputs=list(inputs))
    for source in inputs:
        if source.kind is RunKind.DATASET:
            section = dataset_section(source, content.notes)
            content.datasets += [section] if section is not None else []
        elif source.kind is RunKind.STYLIZE:
            section = read_stylize_output(source, content.notes)
            content.stylized.append(section)
            content.runs.append(stylize_card(section))
        elif source.kind is RunKind.EVALUATE:
            tables, sweeps = read_evaluation(source, content.notes, figure_dir)
            content.evaluations += tables
            content.sweeps += sweeps
            content.runs.append(evaluation_card(source, tables))
        else:
            content.runs.append(run_card(source))
            content.embeddings += embedding_figures(source)
    return content


def _empty_sections(content: ReportContent) -> tuple[str, ...]:
    filled = {
        "stylized": content.stylized,
        "evaluation": content.evaluations,
        "sweep": content.sweeps,
        "embeddings": content.embeddings,
        "dataset": content.datasets,
        "runs": content.runs,
    }
    return tuple(name for anchor, name in SECTIONS if anchor in filled and not filled[anchor])


def _writable(out: Path) -> Path:
    if "://" in str(out):
        raise ReportInputError(f"{out}: the report is written to a local folder (--out)")
    try:
        return Path(ensure_writable(out.expanduser()))
    except UnwritableLocationError as error:
        raise ReportInputError(f"{error} (--out)") from error


def _write_atomically(path: Path, page: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=".index-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(page)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_report(
    root: str | Path, runs: Sequence[str | Path], out: str | Path | None = None
) -> ReportResult:
    """Write `out/index.html` (default `ROOT/report`) from ROOT and the RUNs; see the module."""
    inputs = resolve_inputs(root, runs)
    out_dir = _writable(Path(out) if out is not None else Path(root) / DEFAULT_DIR_NAME)
    copier = AssetCopier(out_dir)
    content = collect_report(inputs, copier.assets)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = f"ROOT {Path(root).resolve()} · {len(inputs)} input(s) · written {stamp}"
    page = render_page(content, copier, TITLE, subtitle)
    index = out_dir / INDEX_NAME
    _write_atomically(index, page)
    copier.remove_stale()
    logger.info("report: %s (%d assets)", index, len(copier.copied))
    return ReportResult(
        index=index,
        inputs=tuple(inputs),
        assets=len(copier.copied),
        empty_sections=_empty_sections(content),
        notes=tuple(content.notes),
    )
