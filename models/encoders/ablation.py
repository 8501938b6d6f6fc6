"""The encoder ablations of the research design: one flag each, several seeds, one table.

Owns the variant list and the table. Each variant is a set of `--set` overrides on the full
method; `run_ablations` trains every (variant, seed) into `OUT/<variant>/seed<k>`, evaluates each
on the held-out split and returns one row per run; `format_ablation_table` renders the mean and
the spread (sample standard deviation) over the seeds as markdown, with one column per dataset
of the queries (docs/ABLATIONS.md keeps the measured one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ABLATIONS: dict[str, list[str]] = {
    "full": [],
    "no-part-level": ["losses.part_nce_enabled=false"],
    "no-hierarchical": ["losses.hierarchical_enabled=false", "losses.style_nce_enabled=true"],
    "no-orthogonality": ["losses.orthogonality_enabled=false"],
    "no-frequency-features": ["features.use_frequency_features=false"],
    "no-style-eraser": ["erase_style_from_content=false"],
    "with-content-instance-norm": ["model.content_instance_norm=true"],  # an option, off
    "with-retargeted-bones": ["features.retarget_bones=true"],  # an option, off
}


@dataclass(frozen=True)
class AblationRow:
    variant: str
    seed: int
    style_knn: float
    style_knn_per_clip: float
    style_from_content: float
    style_from_content_within: float | None
    content_probe: float | None
    content_from_style: float | None
    part_knn_mean: float
    knn_by_dataset: dict[str, float] = field(default_factory=dict)


def _accuracy(report: dict, key: str) -> float | None:
    value = report.get(key)
    return value["accuracy"] if value else None


def row_from_report(variant: str, seed: int, report: dict) -> AblationRow:
    parts = report["part_style_knn_top1"]
    by_dataset = report.get("style_knn_top1_by_dataset", {})
    return AblationRow(
        variant=variant,
        seed=seed,
        style_knn=report["style_knn_top1"]["accuracy"],
        style_knn_per_clip=report["style_knn_top1_per_clip"],
        style_from_content=report["style_from_content_leakage"]["accuracy"],
        style_from_content_within=_accuracy(report, "style_from_content_leakage_within_queries"),
        content_probe=_accuracy(report, "content_linear_probe"),
        content_from_style=_accuracy(report, "content_from_style_leakage"),
        part_knn_mean=round(sum(parts.values()) / len(parts), 4),
        knn_by_dataset={name: value for name, value in by_dataset.items() if "/" not in name},
    )


def run_ablations(
    out: Path,
    train: Callable[[str, list[str], Path], Path],
    evaluate: Callable[[Path], dict],
    variants: list[str] | None = None,
    seeds: tuple[int, ...] = (0,),
) -> list[AblationRow]:
    """Train and evaluate each variant and seed with `train(name, overrides, run_dir)`."""
    names = variants or list(ABLATIONS)
    unknown = [name for name in names if name not in ABLATIONS]
    if unknown:
        raise ValueError(f"unknown ablation {unknown}; known: {list(ABLATIONS)}")
    rows = []
    for name in names:
        for seed in seeds:
            run_dir = train(name, [*ABLATIONS[name], f"seed={seed}"], out / name / f"seed{seed}")
            rows.append(row_from_report(name, seed, evaluate(run_dir)))
    return rows


def _cell(values: list[float | None]) -> str:
    present = [value for value in values if value is not None]
    if not present:
        return "n/a"
    if len(present) == 1:
        return f"{present[0]:.3f}"
    return f"{np.mean(present):.3f} ± {np.std(present, ddof=1):.3f}"


COLUMNS: tuple[tuple[str, Callable[[AblationRow], float | None]], ...] = (
    ("style kNN (all test windows)", lambda row: row.style_knn),
    ("per clip", lambda row: row.style_knn_per_clip),
    ("style from z_c (gallery probe)", lambda row: row.style_from_content),
    ("style from z_c (within test, 2-fold)", lambda row: row.style_from_content_within),
    ("content probe from z_c (val)", lambda row: row.content_probe),
    ("content from z_s (val)", lambda row: row.content_from_style),
    ("part kNN (mean)", lambda row: row.part_knn_mean),
)


def format_ablation_table(rows: list[AblationRow]) -> str:
    """One line per variant: mean ± standard deviation over its seeds (n in the last column)."""
    datasets = sorted({name for row in rows for name in row.knn_by_dataset})
    columns = [
        *COLUMNS,
        *((f"style kNN {name}", _dataset_getter(name)) for name in datasets),
    ]
    header = "| variant | " + " | ".join(title for title, _ in columns) + " | seeds |"
    lines = [header, "|---|" + "---:|" * (len(columns) + 1)]
    for variant in dict.fromkeys(row.variant for row in rows):
        mine = [row for row in rows if row.variant == variant]
        cells = [_cell([get(row) for row in mine]) for _, get in columns]
        seeds = ",".join(str(row.seed) for row in mine)
        lines.append(f"| {variant} | " + " | ".join(cells) + f" | {seeds} |")
    return "\n".join(lines)


def _dataset_getter(name: str) -> Callable[[AblationRow], float | None]:
    return lambda row: row.knn_by_dataset.get(name)
