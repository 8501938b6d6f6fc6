"""The evaluate outputs of a report: the score table beside the baselines and the real data, and
the strength-sweep plot.

Owns `read_evaluation(input, notes, figure_dir)`. The table is the JSON report of `stylemotion
evaluate --out` (`models.evaluation.stylization_eval.evaluate_stylizers`): one row per stylizer
and strength, the real data's row last; its columns are every scalar metric the rows carry, so
a metric added to the evaluation shows up without a change here. The sweep plot is the PNG
beside the report (`--plot`: the input folder's PNGs, or for a report file the PNGs of its folder
with its name or `sweep` in theirs); when there is none it is drawn from the report with the
evaluation's own `plot_strength_sweep(sweep_points(report))`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from flows.report.inputs import ReportInput, evaluation_reports, read_json_object
from flows.report.records import EvaluationTable, Facts, Figure

logger = logging.getLogger(__name__)

LEAD_COLUMNS = ("stylizer", "strength")


def is_scalar(value: object) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def table_columns(rows: list[dict]) -> tuple[str, ...]:
    """The scalar metrics of the rows, in the order they first appear (lead columns first)."""
    columns: dict[str, None] = {}
    for row in rows:
        for name, value in row.items():
            if name not in LEAD_COLUMNS and name not in columns and is_scalar(value):
                columns[name] = None
    scalar_everywhere = [c for c in columns if all(is_scalar(row.get(c)) for row in rows)]
    return (*LEAD_COLUMNS, *scalar_everywhere)


def row_kind(stylizer: str) -> str:
    """How a row is shown: the real data, a model run (`diffusion...`) or a baseline."""
    if stylizer == "real":
        return "real"
    return "model" if stylizer.startswith("diffusion") else "baseline"


def report_facts(report: dict) -> Facts:
    evaluator = report.get("evaluator") if isinstance(report.get("evaluator"), dict) else {}
    facts = [
        ("evaluator", str(evaluator.get("path", "?"))),
        ("evaluator sha256", str(evaluator.get("sha256", "not recorded"))),
        ("target styles", ", ".join(map(str, report.get("styles", []))) or "?"),
        ("source clips", str(len(report.get("sources", [])))),
        ("seeds", ", ".join(map(str, report.get("seeds", []))) or "?"),
        ("failed items", str(len(report.get("failures", [])))),
    ]
    return tuple(facts)


def _sweep_pngs(source: ReportInput, report_file: Path) -> list[Path]:
    if source.path.is_dir():
        return sorted(source.path.glob("*.png"))
    return [
        png
        for png in sorted(report_file.parent.glob("*.png"))
        if png.stem == report_file.stem or "sweep" in png.stem.lower()
    ]


def draw_sweep(report: dict, path: Path) -> Path | None:
    """The evaluation's own strength-sweep plot of `report`, drawn into `path` (None: no point)."""
    from models.evaluation.stylization_eval import sweep_points
    from models.evaluation.sweep_plot import plot_strength_sweep

    points = sweep_points(report)
    return plot_strength_sweep(points, path) if points else None


def read_evaluation(
    source: ReportInput, notes: list[str], figure_dir: Path
) -> tuple[list[EvaluationTable], list[Figure]]:
    """The tables of every evaluate report of `source`, and its sweep plots (found or drawn)."""
    tables, sweeps = [], []
    report_files = evaluation_reports(source.path)
    for report_file in report_files:
        report = read_json_object(report_file) or {}
        rows = [row for row in [*report["results"], report["real"]] if isinstance(row, dict)]
        columns = table_columns(rows)
        tables.append(
            EvaluationTable(source, report_file, columns, tuple(rows), report_facts(report))
        )
    pngs = sorted({png for file in report_files for png in _sweep_pngs(source, file)})
    sweeps += [Figure(png, f"strength sweep: {png.name} (beside {source.name})") for png in pngs]
    if report_files and not pngs:
        target = figure_dir / f"drawn-sweep-{re.sub(r'[^A-Za-z0-9._-]+', '_', source.name)}.png"
        try:
            drawn = draw_sweep(read_json_object(report_files[0]) or {}, target)
        except (KeyError, TypeError, ValueError, OSError) as error:
            notes.append(f"{report_files[0]}: no sweep plot beside it and none drawn ({error})")
            drawn = None
        if drawn is not None:
            caption = f"strength sweep of {source.name} (drawn from {report_files[0].name})"
            sweeps.append(Figure(drawn, caption))
    return tables, sweeps
