"""The encoder ablations of the research design: one flag each, same seeds, one table.

Owns the variant list and the table. Each variant is a set of `--set` overrides on the full
method; `run_ablations` trains every variant into `OUT/<variant>` with the same seed, evaluates
each on the held-out split and returns the rows; `format_ablation_table` renders them as
markdown (docs/ABLATIONS.md keeps the measured one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ABLATIONS: dict[str, list[str]] = {
    "full": [],
    "no-part-level": ["losses.part_nce_enabled=false"],
    "no-hierarchical": ["losses.hierarchical_enabled=false", "losses.style_nce_enabled=true"],
    "no-orthogonality": ["losses.orthogonality_enabled=false"],
    "no-frequency-features": ["features.use_frequency_features=false"],
    "with-content-instance-norm": ["model.content_instance_norm=true"],  # an option, off
}


@dataclass(frozen=True)
class AblationRow:
    variant: str
    style_knn: float
    style_knn_per_clip: float
    style_probe: float
    style_from_content: float
    content_from_style: float | None
    part_knn_mean: float


def row_from_report(variant: str, report: dict) -> AblationRow:
    leak = report.get("content_from_style_leakage")
    parts = report["part_style_knn_top1"]
    return AblationRow(
        variant=variant,
        style_knn=report["style_knn_top1"]["accuracy"],
        style_knn_per_clip=report["style_knn_top1_per_clip"],
        style_probe=report["style_linear_probe"]["accuracy"],
        style_from_content=report["style_from_content_leakage"]["accuracy"],
        content_from_style=leak["accuracy"] if leak else None,
        part_knn_mean=round(sum(parts.values()) / len(parts), 4),
    )


def run_ablations(
    out: Path,
    train: Callable[[str, list[str], Path], Path],
    evaluate: Callable[[Path], dict],
    variants: list[str] | None = None,
) -> list[AblationRow]:
    """Train and evaluate each variant with `train(name, overrides, run_dir)` / `evaluate(run)`."""
    rows = []
    for name in variants or list(ABLATIONS):
        if name not in ABLATIONS:
            raise ValueError(f"unknown ablation {name!r}; known: {list(ABLATIONS)}")
        run_dir = train(name, ABLATIONS[name], out / name)
        rows.append(row_from_report(name, evaluate(run_dir)))
    return rows


def format_ablation_table(rows: list[AblationRow]) -> str:
    header = (
        "| variant | style kNN top-1 (windows) | per clip | style linear probe | "
        "style from z_c (leakage) | content from z_s (leakage) | part kNN (mean) |\n"
        "|---|---:|---:|---:|---:|---:|---:|"
    )
    lines = [header]
    for row in rows:
        leak = "n/a" if row.content_from_style is None else f"{row.content_from_style:.3f}"
        lines.append(
            f"| {row.variant} | {row.style_knn:.3f} | {row.style_knn_per_clip:.3f} | "
            f"{row.style_probe:.3f} | {row.style_from_content:.3f} | {leak} | "
            f"{row.part_knn_mean:.3f} |"
        )
    return "\n".join(lines)
