"""The style-strength sweep picture: SRA against content error, one curve per stylizer (PNG).

Owns the plot of issue 7's sweep: x = key-joint content error (metres), y = style recognition
accuracy. A stylizer evaluated at several strengths is a line through its points, labelled with
the strength; a stylizer with one point (the baselines) and the real data are single markers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def plot_strength_sweep(points: Sequence[dict], path: Path, title: str = "") -> Path:
    """Draw `models.evaluation.stylization_eval.sweep_points` output into `path` (PNG)."""
    by_name: dict[str, list[dict]] = defaultdict(list)
    for point in points:
        by_name[point["stylizer"]].append(point)
    figure, axes = plt.subplots(figsize=(7, 5), dpi=120)
    tab10 = plt.get_cmap("tab10").colors
    curve_colours = iter(tab10[:3] + tab10[4:])  # red is kept for the real data
    marker_colours = iter(("0.15", "0.45", "0.65", "0.8"))  # greys for the single points
    for name, mine in by_name.items():
        mine = sorted(mine, key=lambda p: p["strength"] if p["strength"] is not None else 0.0)
        x = [p["content_error_m"] for p in mine]
        y = [p["sra"] for p in mine]
        if len(mine) > 1:
            axes.plot(x, y, marker="o", label=name, color=next(curve_colours))
            for point in mine:
                axes.annotate(
                    f"{point['strength']:g}",
                    (point["content_error_m"], point["sra"]),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=7,
                )
        else:
            marker, colour = (
                ("*", "tab:red") if name == "real" else ("s", next(marker_colours, "0.5"))
            )
            axes.scatter(x, y, marker=marker, s=90, label=name, zorder=3, color=colour)
    axes.set_xlabel("content error: key-joint error vs source (m)")
    axes.set_ylabel("style recognition accuracy (SRA)")
    axes.set_ylim(-0.02, 1.02)
    axes.set_title(title or "style strength sweep (held-out contents)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
