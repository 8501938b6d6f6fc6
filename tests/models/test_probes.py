"""Probes on constructed embeddings where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from models.encoders.probes import knn_accuracy, linear_probe_accuracy, pca_2d


def _clusters(seed: int, separation: float, per_class: int = 30, classes: int = 3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, 8)) * separation
    labels = np.repeat(np.arange(classes), per_class)
    return centres[labels] + rng.normal(size=(len(labels), 8)), labels


def test_separated_clusters_are_found_and_noise_is_at_chance() -> None:
    gallery, gallery_labels = _clusters(0, separation=10.0)
    queries, query_labels = _clusters(0, separation=10.0)
    queries = queries + np.random.default_rng(1).normal(size=queries.shape) * 0.1
    assert knn_accuracy(gallery, gallery_labels, queries, query_labels).accuracy == 1.0
    assert linear_probe_accuracy(gallery, gallery_labels, queries, query_labels).accuracy == 1.0
    rng = np.random.default_rng(2)
    noise_gallery, noise_queries = rng.normal(size=(300, 8)), rng.normal(size=(300, 8))
    labels = rng.integers(0, 3, 300)
    result = linear_probe_accuracy(noise_gallery, labels, noise_queries, rng.integers(0, 3, 300))
    assert result.accuracy < 0.5 and result.chance == pytest.approx(1 / 3, abs=0.1)


def test_knn_votes_and_handles_a_small_gallery() -> None:
    gallery = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    labels = np.array([0, 0, 1])
    assert knn_accuracy(gallery, labels, np.array([[1.0, 0.05]]), np.array([0]), k=10).accuracy == 1
    with pytest.raises(ValueError, match="non-empty"):
        knn_accuracy(gallery[:0], labels[:0], gallery, labels)


def test_pca_finds_the_spread_axis() -> None:
    rng = np.random.default_rng(0)
    points = np.zeros((100, 5))
    points[:, 3] = rng.normal(size=100) * 10
    points[:, 1] = rng.normal(size=100)
    projected = pca_2d(points)
    assert projected.shape == (100, 2)
    assert abs(np.corrcoef(projected[:, 0], points[:, 3])[0, 1]) > 0.99
