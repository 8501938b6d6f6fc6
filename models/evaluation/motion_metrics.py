"""Motion metrics of stylization evaluation: pure numpy functions on canonical-skeleton positions.

Owns the numbers `models.evaluation.stylization_eval` reports beside the evaluator's
classifications: foot skating, content preservation (root trajectory, key joints, wrist/ankle
speed ratio, joint-speed timing correlation), Fréchet distance,
diversity, part locality leakage and bone-length consistency. Every function takes positions `(T, J,
3)` (metres, y up, floor at y = 0, `storage.skeleton` joint order) or feature arrays, and returns
plain floats (or a small dataclass of counts, so ratios can be pooled over many clips).
Where an output and its source differ in length, the comparison uses their common prefix.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from models.encoders.features import FOOT_STANDING_HEIGHTS
from storage.canonical import facing_yaw
from storage.skeleton import (
    BODY_PART_INDICES,
    FOOT_JOINTS,
    JOINT_INDEX,
    bone_lengths,
)

CONTACT_HEIGHT_M = 0.05  # issue 7: contact = foot height < 5 cm in both adjacent frames
SKATE_SPEED_M_S = 0.5  # issue 7: skating = contact and horizontal speed > 0.5 m/s
KEY_JOINTS: tuple[str, ...] = (
    "head",
    "left_wrist",
    "right_wrist",
    "left_ankle",
    "right_ankle",
    "left_toe",
    "right_toe",
)
_PELVIS = JOINT_INDEX["pelvis"]
_FOOT_INDICES = np.array([JOINT_INDEX[name] for name in FOOT_JOINTS])
_KEY_INDICES = np.array([JOINT_INDEX[name] for name in KEY_JOINTS])
# An ankle stands about 6 cm higher than a toe (canonical rest pose); its "height" is measured
# above that standing height (models.encoders.features.FOOT_STANDING_HEIGHTS: ankle 0.06, toe 0) so
# a planted ankle counts as on the floor.


class MetricError(ValueError):
    """A metric got arrays of the wrong shape or too few samples; the message says which."""


@dataclass(frozen=True)
class FootSkate:
    """Adjacent-frame foot pairs in contact, and those of them that slide."""

    contact_pairs: int
    skating_pairs: int

    @property
    def ratio(self) -> float:
        """Skating pairs / contact pairs; 0.0 when no foot ever touches the floor."""
        return self.skating_pairs / self.contact_pairs if self.contact_pairs else 0.0

    def __add__(self, other: FootSkate) -> FootSkate:
        return FootSkate(
            self.contact_pairs + other.contact_pairs, self.skating_pairs + other.skating_pairs
        )


def _check_positions(positions: np.ndarray, name: str = "positions") -> np.ndarray:
    array = np.asarray(positions, dtype=np.float64)
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[1] <= _PELVIS or len(array) < 1:
        raise MetricError(f"{name} must be (T>=1, J, 3), got {array.shape}")
    return array


def _common(output: np.ndarray, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    output, source = _check_positions(output, "output"), _check_positions(source, "source")
    if output.shape[1] != source.shape[1]:
        raise MetricError(f"joint counts differ: {output.shape[1]} vs {source.shape[1]}")
    length = min(len(output), len(source))
    return output[:length], source[:length]


def foot_skate(positions: np.ndarray, fps: float) -> FootSkate:
    """Foot skating of one clip, over the four `FOOT_JOINTS` and every adjacent frame pair.

    A pair (t, t+1) of a foot joint is in contact when its height above its standing height is
    below `CONTACT_HEIGHT_M` in both frames; it skates when, in addition, its horizontal (x, z)
    speed between the two frames exceeds `SKATE_SPEED_M_S`.
    """
    feet = _check_positions(positions)[:, _FOOT_INDICES]  # (T, 4, 3)
    low = (feet[..., 1] - FOOT_STANDING_HEIGHTS) < CONTACT_HEIGHT_M  # (T, 4)
    contact = low[:-1] & low[1:]  # (T-1, 4)
    speed = np.linalg.norm(np.diff(feet[..., [0, 2]], axis=0), axis=-1) * fps  # (T-1, 4)
    skating = contact & (speed > SKATE_SPEED_M_S)
    return FootSkate(int(contact.sum()), int(skating.sum()))


def root_trajectory_error(output: np.ndarray, source: np.ndarray) -> float:
    """Mean ground-plane (x, z) distance in metres between the two pelvis trajectories."""
    output, source = _common(output, source)
    difference = output[:, _PELVIS, [0, 2]] - source[:, _PELVIS, [0, 2]]  # (T, 2)
    return float(np.linalg.norm(difference, axis=-1).mean())


def pelvis_relative(positions: np.ndarray) -> np.ndarray:
    """Joints minus the pelvis `(T, J, 3)`, turned into each frame's facing frame (+z forward)."""
    positions = _check_positions(positions)
    yaw = facing_yaw(positions)  # (T,)
    cos, sin = np.cos(yaw)[:, None], np.sin(yaw)[:, None]  # (T, 1)
    relative = positions - positions[:, _PELVIS : _PELVIS + 1]  # (T, J, 3)
    x, y, z = relative[..., 0], relative[..., 1], relative[..., 2]
    return np.stack([cos * x - sin * z, y, sin * x + cos * z], axis=-1)  # (T, J, 3)


def key_joint_error(output: np.ndarray, source: np.ndarray) -> float:
    """Mean distance in metres of the `KEY_JOINTS` (head, wrists, ankles, toes), pelvis-relative
    in each clip's own facing frame, so a pose is compared independently of where it stands."""
    output, source = _common(output, source)
    difference = pelvis_relative(output)[:, _KEY_INDICES] - pelvis_relative(source)[:, _KEY_INDICES]
    return float(np.linalg.norm(difference, axis=-1).mean())


WRISTS = ("left_wrist", "right_wrist")
ANKLES = ("left_ankle", "right_ankle")


def joint_speeds(positions: np.ndarray, fps: float, joints: Sequence[str]) -> np.ndarray:
    """Speeds `(T-1, K)` in m/s of `joints`, pelvis-relative in the facing frame (what the
    limb does, not where the body travels)."""
    relative = pelvis_relative(positions)[:, [JOINT_INDEX[name] for name in joints]]
    return np.linalg.norm(np.diff(relative, axis=0), axis=-1) * fps


def speed_ratio(
    output: np.ndarray, source: np.ndarray, fps: float, joints: Sequence[str] = WRISTS
) -> float | None:
    """Mean speed of `joints` in the output over that in the source (1 = as fast; None when
    the source's joints stand still): does a stylized gesture keep its energy?"""
    output, source = _common(output, source)
    if len(output) < 2:
        return None
    reference = float(joint_speeds(source, fps, joints).mean())
    if reference < 1e-3:
        return None
    return float(joint_speeds(output, fps, joints).mean()) / reference


def timing_correlation(
    output: np.ndarray, source: np.ndarray, fps: float, joints: Sequence[str] = KEY_JOINTS
) -> float | None:
    """Pearson correlation over time of each joint's speed curve in the source and the output,
    averaged over the joints whose source speed varies (None when none does): high when the
    output moves *when* the source moves, whatever the amplitude (the style may change that)."""
    output, source = _common(output, source)
    if len(output) < 3:
        return None
    ours, theirs = joint_speeds(output, fps, joints), joint_speeds(source, fps, joints)
    values = []
    for k in range(len(joints)):
        if theirs[:, k].std() < 1e-3 or ours[:, k].std() < 1e-6:
            if theirs[:, k].std() >= 1e-3:
                values.append(0.0)  # the source moves, the output does not: no timing kept
            continue
        values.append(float(np.corrcoef(ours[:, k], theirs[:, k])[0, 1]))
    return float(np.mean(values)) if values else None


def bone_length_std(positions: np.ndarray) -> float:
    """Mean over bones of the standard deviation over time of the bone's length (metres)."""
    lengths = bone_lengths(_check_positions(positions))  # (T, J-1)
    return float(lengths.std(axis=0).mean())


def frechet_distance(first: np.ndarray, second: np.ndarray, min_samples: int = 2) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets `(N, D)` and `(M, D)`.

    ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)). With fewer samples than dimensions the
    covariances are singular: a 1e-6 ridge keeps the matrix square root finite, and the tiny
    imaginary part `sqrtm` returns from round-off is dropped. Fewer than `min_samples` rows in
    either set is an error (a covariance needs two).
    """
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    if first.ndim != 2 or second.ndim != 2 or first.shape[1] != second.shape[1]:
        raise MetricError(f"feature sets must be (N, D) and (M, D): {first.shape}, {second.shape}")
    if min(len(first), len(second)) < max(min_samples, 2):
        raise MetricError(f"Fréchet distance needs >= {max(min_samples, 2)} samples per set")
    mean_gap = first.mean(axis=0) - second.mean(axis=0)  # (D,)
    ridge = 1e-6 * np.eye(first.shape[1])
    cov_first = np.cov(first, rowvar=False) + ridge  # (D, D)
    cov_second = np.cov(second, rowvar=False) + ridge
    root = linalg.sqrtm(cov_first @ cov_second)
    root = np.real(root)
    value = mean_gap @ mean_gap + np.trace(cov_first + cov_second - 2.0 * root)
    return float(max(value, 0.0))


def mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of rows of `(N, D)`; 0.0 for fewer than two rows."""
    features = np.asarray(features, np.float64)
    if len(features) < 2:
        return 0.0
    pairs = itertools.combinations(range(len(features)), 2)
    return float(np.mean([np.linalg.norm(features[i] - features[j]) for i, j in pairs]))


def diversity(groups: Iterable[np.ndarray]) -> float | None:
    """Mean over groups of `mean_pairwise_distance`; a group is the (N, D) features of the
    outputs of one (source, target) across seeds. Groups of one are ignored; None if none left."""
    values = [mean_pairwise_distance(group) for group in groups if len(group) >= 2]
    return float(np.mean(values)) if values else None


def part_leakage(
    output: np.ndarray,
    source: np.ndarray,
    targeted_parts: Sequence[str],
    min_change_m: float = 1e-3,
) -> float | None:
    """How much the untargeted body parts moved, relative to the targeted ones.

    Per joint, change = mean over frames of the distance between output and source joint,
    both pelvis-relative in their own facing frame (`pelvis_relative`; the pelvis itself is
    left out, it is 0 by construction). leakage = mean change of the joints of untargeted parts
    / mean change of the joints of `targeted_parts`: 0 is perfectly local, 1 means the whole
    body changed as much as the targeted parts. None when the targeted parts changed less than
    `min_change_m` (nothing was stylized, the ratio is undefined).
    """
    unknown = sorted(set(targeted_parts) - set(BODY_PART_INDICES))
    if unknown or not targeted_parts:
        raise MetricError(f"targeted parts {unknown or '[]'} not in {sorted(BODY_PART_INDICES)}")
    output, source = _common(output, source)
    change = np.linalg.norm(pelvis_relative(output) - pelvis_relative(source), axis=-1).mean(0)
    targeted = {j for part in targeted_parts for j in BODY_PART_INDICES[part]} - {_PELVIS}
    untargeted = set(range(change.shape[0])) - targeted - {_PELVIS}
    targeted_change = float(change[sorted(targeted)].mean())
    if targeted_change < min_change_m or not untargeted:
        return None
    return float(change[sorted(untargeted)].mean() / targeted_change)
