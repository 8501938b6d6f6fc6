"""The scene-weight sweep picture: style shift towards the scene's styles against alpha (PNG).

Owns the plot of the scene issue's alpha sweep: x = alpha, left panel = probability mass on
the scene's associated styles (solid: with the scene, dashed: the no-scene baseline), right
panel = share of conditions still nearest to their own style. One colour per method (scene
encoder, scene as text). The title carries the data provenance ("controlled" when it is the
Bandai construction), so the picture cannot be mistaken for a real-world result.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def plot_alpha_sweep(results: dict[str, list[dict]], path: Path, title: str) -> Path:
    """Draw `models.scene.evaluate.scene_shift` rows per method into `path` (PNG)."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    for index, (name, rows) in enumerate(results.items()):
        colour = f"C{index}"
        alphas = [row["alpha"] for row in rows]
        left.plot(alphas, [r["prob_with"] for r in rows], marker="o", color=colour, label=name)
        left.plot(alphas, [r["prob_without"] for r in rows], ls="--", color=colour, alpha=0.6)
        right.plot(
            alphas, [r["own_style_kept"] for r in rows], marker="o", color=colour, label=name
        )
    left.set(xlabel="scene weight alpha", ylabel="P(scene's associated styles)", ylim=(0, 1))
    left.set_title("style shift towards the scene (dashed: no scene)", fontsize=9)
    right.set(xlabel="scene weight alpha", ylabel="nearest prototype = own style", ylim=(0, 1))
    right.set_title("reference style kept", fontsize=9)
    left.legend(fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
