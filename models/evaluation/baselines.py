"""Baselines of stylization, each a `Stylizer` run through the same evaluation code as the model.

Owns the reference points every stylization result is reported beside (issue 7): identity
(the source unchanged: perfect content, no style), style-clip copy (a real clip of the target
style from the generator's own data pool, cropped or looped to the source length and placed at
the source's start position and heading: perfect style, no content) and nearest-neighbour
retrieval (the window of a real target-style clip whose pelvis-relative pose sequence is
closest to the source's, placed the same way). Per-part targets are applied by splicing: the
targeted parts' pelvis-relative joints come from the donor, everything else from the base.
The pool should be the clips the generator may learn from (the encoders' training split), never
the held-out references the evaluator compares with.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from models.diffusion.stylize import StyleTarget
from models.evaluation.motion_metrics import pelvis_relative
from models.evaluation.stylization_eval import EvaluationError
from storage.canonical import facing_yaw, initial_yaw, rotation_about_y
from storage.records import MotionClip
from storage.skeleton import BODY_PART_INDICES, JOINT_INDEX

logger = logging.getLogger(__name__)

_PELVIS = JOINT_INDEX["pelvis"]


def fit_length(positions: np.ndarray, num_frames: int, start: int = 0) -> np.ndarray:
    """Frames `start ... start + num_frames` of `(T, J, 3)`, looping back to 0 past the end."""
    frames = (start + np.arange(num_frames)) % len(positions)  # (num_frames,)
    return positions[frames]


def place_like(positions: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Turn and move positions `(T, J, 3)` so they start at the source's pelvis ground point
    and heading (heights kept)."""
    turn = rotation_about_y(initial_yaw(source) - initial_yaw(positions))  # (3, 3)
    turned = positions.astype(np.float64) @ turn.T  # (T, J, 3)
    offset = source[0, _PELVIS] - turned[0, _PELVIS]
    offset[1] = 0.0
    return (turned + offset).astype(np.float32)


def splice_parts(base: np.ndarray, donors: dict[str, np.ndarray]) -> np.ndarray:
    """`base` `(T, J, 3)` with each part's joints replaced by the donor's (same T) pelvis-relative
    facing-frame joints, put back into the base's pelvis position and heading."""
    out = base.astype(np.float64).copy()
    yaw = facing_yaw(base)  # (T,)
    cos, sin = np.cos(yaw)[:, None], np.sin(yaw)[:, None]  # (T, 1)
    for part, donor in donors.items():
        joints = [j for j in BODY_PART_INDICES[part] if j != _PELVIS]
        local = pelvis_relative(donor)[:, joints]  # (T, P, 3) facing frame
        x, y, z = local[..., 0], local[..., 1], local[..., 2]
        world = np.stack([cos * x + sin * z, y, -sin * x + cos * z], axis=-1)  # (T, P, 3)
        out[:, joints] = base[:, _PELVIS : _PELVIS + 1] + world
    return out.astype(np.float32)


class _PoolStylizer:
    """Shared logic: a pool of real clips by style; `donor` picks a clip for a source."""

    name = "pool"
    uses_strength = False

    def __init__(self, pool: Sequence[MotionClip]) -> None:
        self.by_style: dict[str, list[MotionClip]] = {}
        for clip in pool:
            if clip.style is not None:
                self.by_style.setdefault(clip.style, []).append(clip)
        if not self.by_style:
            raise EvaluationError(f"{type(self).__name__}: the clip pool is empty or unlabelled")

    def clips_of(self, style: str) -> list[MotionClip]:
        if style not in self.by_style:
            raise EvaluationError(
                f"{self.name}: no pool clip of style '{style}' (pool styles: "
                f"{sorted(self.by_style)})"
            )
        return self.by_style[style]

    def donor(self, source: MotionClip, style: str, seed: int) -> np.ndarray:
        raise NotImplementedError

    def stylize(
        self,
        sources: Sequence[MotionClip],
        targets: Sequence[StyleTarget],
        strength: float,
        seed: int,
    ) -> list[np.ndarray]:
        outputs = []
        for source, target in zip(sources, targets, strict=True):
            base = source.positions
            if target.style != source.style:
                base = place_like(self.donor(source, target.style, seed), source.positions)
            donors = {
                part: place_like(self.donor(source, style, seed), base)
                for part, style in target.part_styles.items()
            }
            outputs.append(splice_parts(base, donors) if donors else base.copy())
        return outputs


class IdentityStylizer:
    """The source unchanged, whatever the target: the content-preservation ceiling."""

    name = "identity"
    uses_strength = False

    def stylize(
        self,
        sources: Sequence[MotionClip],
        targets: Sequence[StyleTarget],
        strength: float,
        seed: int,
    ) -> list[np.ndarray]:
        return [source.positions.copy() for source in sources]


class StyleClipCopyStylizer(_PoolStylizer):
    """A real clip of the target style (chosen and cropped by seed), placed on the source."""

    name = "style_clip_copy"

    def donor(self, source: MotionClip, style: str, seed: int) -> np.ndarray:
        candidates = sorted(self.clips_of(style), key=lambda clip: clip.clip_id)
        rng = np.random.default_rng([seed, len(style), sum(map(ord, style))])
        clip = candidates[int(rng.integers(len(candidates)))]
        start = int(rng.integers(max(clip.num_frames - source.num_frames, 0) + 1))
        return fit_length(clip.positions, source.num_frames, start)


class NearestNeighbourStylizer(_PoolStylizer):
    """The target-style pool window nearest to the source by pelvis-relative pose distance
    (mean joint distance over the overlapping frames; candidate starts every `stride` frames)."""

    name = "nearest_neighbour"

    def __init__(self, pool: Sequence[MotionClip], stride: int = 5) -> None:
        super().__init__(pool)
        self.stride = stride
        self._local: dict[str, np.ndarray] = {}

    def _relative(self, clip: MotionClip) -> np.ndarray:
        if clip.clip_id not in self._local:
            self._local[clip.clip_id] = pelvis_relative(clip.positions)  # (T, J, 3)
        return self._local[clip.clip_id]

    def donor(self, source: MotionClip, style: str, seed: int) -> np.ndarray:
        query = pelvis_relative(source.positions)  # (T, J, 3)
        best = (np.inf, None, 0)
        for clip in self.clips_of(style):
            candidate = self._relative(clip)
            length = min(len(query), len(candidate))
            for start in range(0, len(candidate) - length + 1, self.stride):
                window = candidate[start : start + length]  # (L, J, 3)
                distance = float(np.linalg.norm(window - query[:length], axis=-1).mean())
                if distance < best[0]:
                    best = (distance, clip, start)
        _, clip, start = best
        return fit_length(clip.positions, source.num_frames, start)


def baseline_stylizers(pool: Sequence[MotionClip]) -> list:
    """The three baselines of issue 7, in report order."""
    return [IdentityStylizer(), StyleClipCopyStylizer(pool), NearestNeighbourStylizer(pool)]
