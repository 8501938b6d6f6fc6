"""Erasing the style from the content code after training: a closed-form linear eraser.

Owns `fit_linear_eraser` and `LinearEraser`. The method is LEACE (least-squares concept
erasure; Belrose et al., "LEACE: Perfect linear concept erasure in closed form", NeurIPS 2023):
with `W` the whitening of the codes' covariance and `Q` the orthogonal projection onto the
column space of `W Σ_xz` (the whitened cross-covariance of codes and one-hot style labels), the
eraser `x -> x - W⁺ Q W (x - μ)` makes every style's mean code equal on the data it was fitted
on, so no linear classifier reads the style from them better than the majority class, while it
moves the codes as little as possible (least squares in the whitened metric). It is affine, so
applied to every per-frame content code it erases the pooled code too. The code here is written
for this project from the paper's formulas.

Contrastive training alone leaves the style in `z_c` (docs/DATASETS.md: a linear probe reads it
at 0.72 on two datasets); the eraser removes what is *linearly* there and nothing else. A
non-linear probe, or a probe fitted on other data (held-out contents), can still find style:
`models.encoders.evaluate` reports the probe fitted on the query clips themselves for that.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


def fit_linear_eraser(
    codes: np.ndarray, labels: np.ndarray, tolerance: float = 1e-6
) -> tuple[np.ndarray, np.ndarray]:
    """Mean `(D,)` and projection `(D, D)` of the LEACE eraser of `labels` from `codes (N, D)`.

    Apply as `codes - (codes - mean) @ projection.T`. Directions of (near) zero variance are
    left alone (the pseudo-inverse square root of the covariance).
    """
    x = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(labels) or len(x) < 2:
        raise ValueError(
            f"need codes (N, D) and N labels with N >= 2, got {x.shape}, {labels.shape}"
        )
    classes, index = np.unique(labels, return_inverse=True)
    mean = x.mean(axis=0)
    centred = x - mean
    onehot = np.eye(len(classes))[index]
    onehot -= onehot.mean(axis=0)
    covariance = centred.T @ centred / len(x)
    values, vectors = np.linalg.eigh(covariance)
    keep = values > tolerance * max(values.max(), tolerance)
    vectors, values = vectors[:, keep], values[keep]
    whiten = vectors @ np.diag(values**-0.5) @ vectors.T
    unwhiten = vectors @ np.diag(values**0.5) @ vectors.T
    cross = centred.T @ onehot / len(x)  # (D, K)
    basis, singular, _ = np.linalg.svd(whiten @ cross, full_matrices=False)
    basis = basis[:, singular > tolerance * max(singular.max(initial=0.0), tolerance)]
    projection = unwhiten @ (basis @ basis.T) @ whiten
    return mean, projection


class LinearEraser(nn.Module):
    """`x -> x - (x - mean) @ projection.T` over the last dimension; the identity until fitted."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("projection", torch.zeros(dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        if not bool(self.projection.any()):
            return x
        projection = self.projection.to(x.dtype)
        return x - (x - self.mean.to(x.dtype)) @ projection.T

    def set(self, mean: np.ndarray, projection: np.ndarray) -> None:
        self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
        self.projection.copy_(torch.as_tensor(projection, dtype=self.projection.dtype))

    def reset(self) -> None:
        """Back to the identity (before a refit, so the fit sees the raw codes)."""
        self.mean.zero_()
        self.projection.zero_()

    @property
    def fitted(self) -> bool:
        return bool(self.projection.any())
