"""The LEACE eraser: equal class means after it, the rest kept, identity until fitted."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.encoders.concept_erasure import LinearEraser, fit_linear_eraser
from models.encoders.probes import linear_probe_accuracy


def _codes(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes whose dims 0, 1, 3 carry 4 classes and dim 2 a label-free signal."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, size=800)
    signal = rng.normal(size=800)
    codes = rng.normal(size=(800, 6)) * 0.3
    codes[:, 0] += np.array([0.0, 2.0, -2.0, 1.0])[labels]
    codes[:, 1] += np.array([1.5, -1.0, 0.0, 2.0])[labels]
    codes[:, 3] += np.array([-1.0, 0.5, 1.0, -0.5])[labels]
    codes[:, 2] += signal
    return codes, labels, signal


def _erase(codes: np.ndarray, mean: np.ndarray, projection: np.ndarray) -> np.ndarray:
    return codes - (codes - mean) @ projection.T


def test_class_means_are_equal_and_a_probe_falls_to_chance() -> None:
    codes, labels, _ = _codes()
    mean, projection = fit_linear_eraser(codes, labels)
    erased = _erase(codes, mean, projection)
    means = np.stack([erased[labels == k].mean(0) for k in range(4)])
    assert np.abs(means - means.mean(0)).max() < 1e-8
    before = linear_probe_accuracy(codes, labels, codes, labels)
    after = linear_probe_accuracy(erased, labels, erased, labels)
    assert before.accuracy > 0.9
    assert after.accuracy < after.chance + 0.06
    fresh, fresh_labels, _ = _codes(seed=1)  # the same eraser on new data of the same kind
    held_out = linear_probe_accuracy(erased, labels, _erase(fresh, mean, projection), fresh_labels)
    assert held_out.accuracy < held_out.chance + 0.06


def test_what_the_labels_do_not_explain_is_kept() -> None:
    codes, labels, signal = _codes()
    mean, projection = fit_linear_eraser(codes, labels)
    erased = _erase(codes, mean, projection)
    assert np.linalg.matrix_rank(projection, tol=1e-6) == 3  # K - 1 directions, no more
    assert np.corrcoef(erased[:, 2], signal)[0, 1] > 0.95
    assert np.allclose(erased[:, 4:], codes[:, 4:], atol=0.2)  # label-free dims barely move


def test_the_module_is_the_identity_until_fitted_and_then_the_affine_map() -> None:
    codes, labels, _ = _codes()
    eraser = LinearEraser(6)
    x = torch.as_tensor(codes, dtype=torch.float32).reshape(8, 100, 6)
    assert not eraser.fitted and torch.equal(eraser(x), x)
    mean, projection = fit_linear_eraser(codes, labels)
    eraser.set(mean, projection)
    expected = _erase(codes, mean, projection).reshape(8, 100, 6)
    assert eraser.fitted and np.allclose(eraser(x).numpy(), expected, atol=1e-4)
    eraser.reset()
    assert torch.equal(eraser(x), x)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="need codes"):
        fit_linear_eraser(np.zeros((3, 2)), np.zeros(2))
