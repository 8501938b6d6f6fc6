"""Cleaning of raw pose tracks: gaps, segments, zero-phase smoothing and bone lengths.

Owns the signal-level steps of canonicalisation (`extract.video.pose_clips`) that do not depend on
the camera: splitting a track's valid-frame mask into segments at long gaps, filling the short gaps
inside a segment by interpolation, zero-phase low-pass smoothing, the jitter measure, and
per-clip bone-length normalisation on the canonical skeleton (`storage.skeleton`).

Smoothing is a Butterworth low-pass run forward and backward (`scipy.signal.filtfilt`): the
backward pass cancels the phase delay of the forward pass, so the filtered motion is not late.
6 Hz is the usual cut-off for whole-body kinematics (Winter, "Biomechanics and Motor Control of
Human Movement", ch. 2); the frequency content of walking and most everyday motion sits below it.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.interpolate import CubicSpline, interp1d
from scipy.signal import butter, filtfilt

from storage.skeleton import BONES, JOINT_INDEX, MIRROR_INDEX, PARENTS

logger = logging.getLogger(__name__)

INTERPOLATION_METHODS = ("linear", "cubic")
_MAX_NORMALISED_CUTOFF = 0.9  # of Nyquist: butter() needs < 1; low-fps video gets mild smoothing
_PELVIS = JOINT_INDEX["pelvis"]
_BONE_OF_CHILD = {child: bone for bone, child in enumerate(BONES.children)}
# Bone index -> the bone index of its left/right mirror (itself for the trunk).
MIRROR_BONE: tuple[int, ...] = tuple(
    _BONE_OF_CHILD[MIRROR_INDEX[child]] for child in BONES.children
)


def find_segments(valid: np.ndarray, max_gap_frames: int) -> list[tuple[int, int]]:
    """Frame ranges `[start, stop)` of valid frames `(T,)` bool, split at long gaps.

    Runs of invalid frames no longer than `max_gap_frames` stay inside a segment (to be
    interpolated); longer runs split the track. Every segment starts and ends on a valid frame.
    """
    indices = np.flatnonzero(valid)
    if indices.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(indices) > max_gap_frames + 1)
    starts = np.concatenate([indices[:1], indices[breaks + 1]])
    stops = np.concatenate([indices[breaks], indices[-1:]]) + 1
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def fill_gaps(values: np.ndarray, valid: np.ndarray, method: str = "cubic") -> np.ndarray:
    """Replace invalid frames of `values` `(n, ...)` by interpolation over the valid ones `(n,)`.

    The first and last frames must be valid (as `find_segments` guarantees), so nothing is
    extrapolated. Cubic needs at least four valid frames and falls back to linear otherwise.
    """
    if method not in INTERPOLATION_METHODS:
        raise ValueError(f"interpolation must be one of {INTERPOLATION_METHODS}, got {method!r}")
    filled = np.array(values, dtype=np.float64)
    if valid.all():
        return filled
    if not (valid[0] and valid[-1]):
        raise ValueError("fill_gaps needs valid first and last frames (nothing to extrapolate)")
    times = np.arange(valid.shape[0], dtype=np.float64)
    known, missing = times[valid], times[~valid]
    if method == "cubic" and known.size >= 4:
        filled[~valid] = CubicSpline(known, filled[valid], axis=0)(missing)
    else:
        filled[~valid] = interp1d(known, filled[valid], axis=0)(missing)
    return filled


def smooth_zero_phase(
    values: np.ndarray, fps: float, cutoff_hz: float, order: int = 2
) -> np.ndarray:
    """Forward-backward Butterworth low-pass of `values` `(n, ...)` along frames: no lag.

    The cut-off is capped just below the Nyquist frequency of `fps`; segments too short for the
    filter's edge padding are padded as far as they allow.
    """
    num_frames = values.shape[0]
    if num_frames < 2:
        return np.array(values, dtype=np.float64)
    normalised = min(cutoff_hz / (fps / 2.0), _MAX_NORMALISED_CUTOFF)
    numerator, denominator = butter(order, normalised)
    padding = min(3 * max(len(numerator), len(denominator)), num_frames - 1)
    return filtfilt(numerator, denominator, values, axis=0, padlen=padding)


def jitter_level(raw: np.ndarray, smoothed: np.ndarray, frames: np.ndarray) -> float:
    """Median distance (m) between raw and smoothed joints `(n, J, 3)` over `frames` `(n,)`.

    What the low-pass removes is mostly noise, so this is the typical per-joint noise amplitude;
    unlike a raw acceleration it does not grow with the square of the frame rate. The pelvis is
    left out: it is the origin of pelvis-relative positions and never moves.
    """
    distances = np.linalg.norm(raw - smoothed, axis=-1)[frames]  # (n_valid, J)
    distances = np.delete(distances, _PELVIS, axis=1)
    return float(np.median(distances)) if distances.size else 0.0


def median_bone_lengths(positions: np.ndarray) -> np.ndarray:
    """Median over frames of each bone's length `(J-1,)`, bones in `BONES` order."""
    children, parents = np.asarray(BONES.children), np.asarray(BONES.parents)
    lengths = np.linalg.norm(positions[:, children] - positions[:, parents], axis=-1)
    return np.median(lengths, axis=0)


def symmetric_bone_lengths(lengths: np.ndarray) -> np.ndarray:
    """Average every left bone with its right mirror, so the skeleton is symmetric `(J-1,)`."""
    return 0.5 * (lengths + lengths[list(MIRROR_BONE)])


def bone_asymmetry(lengths: np.ndarray) -> np.ndarray:
    """Relative left/right difference `|l - r| / mean(l, r)` per bone `(J-1,)`; 0 for the trunk."""
    mirrored = lengths[list(MIRROR_BONE)]
    return np.abs(lengths - mirrored) / np.maximum(0.5 * (lengths + mirrored), 1e-9)


def normalise_bone_lengths(positions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Rebuild positions `(n, J, 3)` from the root outwards with fixed bone `lengths` `(J-1,)`.

    Each bone keeps its direction in every frame; only its length changes, so the result has
    the constant bone lengths of a real skeleton. Parents precede children in `JOINT_NAMES`.
    """
    rebuilt = np.array(positions, dtype=np.float64)
    for joint, parent in enumerate(PARENTS):
        if parent < 0:
            continue
        bone = positions[:, joint] - positions[:, parent]  # (n, 3)
        norm = np.linalg.norm(bone, axis=-1, keepdims=True)
        direction = np.where(norm > 1e-9, bone / np.maximum(norm, 1e-9), 0.0)
        rebuilt[:, joint] = rebuilt[:, parent] + direction * lengths[_BONE_OF_CHILD[joint]]
    return rebuilt
