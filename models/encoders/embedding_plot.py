"""The 2-D picture of a style space: PCA of style embeddings, one colour per style (PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from models.encoders.probes import pca_2d  # noqa: E402


def plot_style_embeddings(
    embeddings: np.ndarray, labels: np.ndarray, names: Sequence[str], path: Path, title: str = ""
) -> Path:
    """Scatter the first two principal components of `embeddings` `(N, D)` coloured by label."""
    points = pca_2d(np.asarray(embeddings, dtype=np.float64))  # (N, 2)
    figure, axes = plt.subplots(figsize=(8, 6.5), dpi=120)
    colours = plt.get_cmap("tab20")
    for label in np.unique(labels):
        mine = labels == label
        axes.scatter(
            *points[mine].T,
            s=10,
            alpha=0.7,
            color=colours(int(label) % 20),
            label=names[int(label)],
        )
    axes.set_xlabel("principal component 1")
    axes.set_ylabel("principal component 2")
    axes.set_title(title or "style embeddings z_s of held-out windows (PCA)")
    axes.legend(fontsize=7, markerscale=2, ncol=2, loc="best")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
