"""Retargeting to the canonical bone lengths: proportions go, directions and the root stay."""

from __future__ import annotations

import numpy as np

from storage.canonical import REST_BONE_LENGTHS, retarget_to_rest_lengths
from storage.skeleton import PARENTS
from tests.storage.clip_factory import make_clip

BONES = [(joint, parent) for joint, parent in enumerate(PARENTS) if parent >= 0]


def _lengths(positions: np.ndarray) -> np.ndarray:
    return np.stack([np.linalg.norm(positions[:, j] - positions[:, p], axis=-1) for j, p in BONES])


def test_every_bone_takes_the_rest_length_and_keeps_its_direction() -> None:
    positions = make_clip(0, num_frames=40).positions.astype(np.float64)
    positions = positions * 1.3  # a taller performer
    out = retarget_to_rest_lengths(positions)
    expected = np.array([REST_BONE_LENGTHS[j] for j, _ in BONES])[:, None]
    np.testing.assert_allclose(_lengths(out), np.broadcast_to(expected, (len(BONES), 40)), 1e-6)
    np.testing.assert_allclose(out[:, 0], positions[:, 0])  # the root trajectory stays
    for joint, parent in BONES:
        before = positions[:, joint] - positions[:, parent]
        after = out[:, joint] - out[:, parent]
        cosine = (before * after).sum(-1) / np.linalg.norm(before, axis=-1)
        np.testing.assert_allclose(cosine / np.linalg.norm(after, axis=-1), 1.0, atol=1e-6)


def test_two_performers_of_one_motion_become_one() -> None:
    positions = make_clip(1, num_frames=20).positions.astype(np.float64)
    root = positions[:, :1]
    short, tall = root + 0.9 * (positions - root), root + 1.2 * (positions - root)
    short_out, tall_out = retarget_to_rest_lengths(short), retarget_to_rest_lengths(tall)
    assert np.abs(_lengths(short) - _lengths(tall)).max() > 0.01
    np.testing.assert_allclose(short_out, tall_out, atol=1e-6)
