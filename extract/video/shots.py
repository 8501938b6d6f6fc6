"""Shot-cut detection on the decoded frame stream, in the same pass as pose extraction.

Owns what a "shot" is for the poses table: a run of frames of the normalised video between two
hard cuts, so that the pose tracker never carries a person across a cut. `ShotDetector` looks at
each frame once (downscaled to `analysis_width`, HSV histogram 16x4x4) and compares it with the
previous one (Bhattacharyya distance). A frame starts a new shot when the distance exceeds both an
absolute floor and `adaptive_factor` times the median distance over the current shot's recent
frames (handheld or busy footage has a higher baseline), or exceeds `hard_distance` outright,
and the current shot already has `min_shot_frames`. Decisions are causal, so the caller learns
of a cut on the first frame of the new shot. Measured on the sample videos: inside real footage
the distance stays below 0.16 (median 0.07-0.11); at a tennis/dance join it is about 0.94.
Gradual transitions (fades, dissolves) are not detected.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShotConfig:
    analysis_width: int = 64
    hue_bins: int = 16
    saturation_bins: int = 4
    value_bins: int = 4
    min_distance: float = 0.25
    hard_distance: float = 0.5
    adaptive_factor: float = 3.0
    baseline_frames: int = 90  # the adaptive baseline is the median of this many recent frames
    min_shot_frames: int = 8


@dataclass(frozen=True)
class Shot:
    """Frames [start_frame, end_frame) of the normalised video."""

    shot_index: int
    start_frame: int
    end_frame: int

    @property
    def num_frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def frames(self) -> range:
        return range(self.start_frame, self.end_frame)


class ShotDetector:
    """Feed frames in order with `update`; `shots` lists the shots seen so far."""

    def __init__(self, config: ShotConfig | None = None) -> None:
        self.config = config or ShotConfig()
        self.num_frames = 0
        self.cut_frames: list[int] = [0]  # first frame of every shot
        self.cut_distances: list[float] = []
        self._previous: np.ndarray | None = None
        self._shot_distances: deque[float] = deque(maxlen=self.config.baseline_frames)

    def update(self, frame: np.ndarray) -> bool:
        """Take the next `(H, W, 3)` RGB frame; True when it starts a new shot (not frame 0)."""
        histogram = self._histogram(frame)
        frame_index = self.num_frames
        self.num_frames += 1
        previous, self._previous = self._previous, histogram
        if previous is None:
            return False
        distance = float(cv2.compareHist(previous, histogram, cv2.HISTCMP_BHATTACHARYYA))
        if not self._is_cut(distance, frame_index):
            self._shot_distances.append(distance)
            return False
        logger.debug("cut at frame %d (histogram distance %.3f)", frame_index, distance)
        self.cut_frames.append(frame_index)
        self.cut_distances.append(distance)
        self._shot_distances.clear()
        return True

    def _is_cut(self, distance: float, frame_index: int) -> bool:
        config = self.config
        if frame_index - self.cut_frames[-1] < config.min_shot_frames:
            return False
        if distance > config.hard_distance:
            return True
        baseline = float(np.median(self._shot_distances)) if self._shot_distances else 0.0
        return distance > max(config.min_distance, config.adaptive_factor * baseline)

    def _histogram(self, frame: np.ndarray) -> np.ndarray:
        config = self.config
        height, width = frame.shape[:2]
        small_height = max(1, round(height * config.analysis_width / width))
        # Nearest-neighbour to 4x the analysis size, then area-average: 16 samples per cell
        # for a tenth of the cost of INTER_AREA over the full frame (0.09 ms vs 1.2 ms).
        sampled = cv2.resize(
            frame, (4 * config.analysis_width, 4 * small_height), interpolation=cv2.INTER_NEAREST
        )  # (4h, 4w, 3)
        small = cv2.resize(
            sampled, (config.analysis_width, small_height), interpolation=cv2.INTER_AREA
        )  # (h, w, 3)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        bins = [config.hue_bins, config.saturation_bins, config.value_bins]
        histogram = cv2.calcHist([hsv], [0, 1, 2], None, bins, [0, 180, 0, 256, 0, 256])
        return histogram / max(float(histogram.sum()), 1.0)  # (hue, sat, value) bins, sums to 1

    @property
    def shots(self) -> list[Shot]:
        ends = [*self.cut_frames[1:], self.num_frames]
        return [
            Shot(index, start, end)
            for index, (start, end) in enumerate(zip(self.cut_frames, ends, strict=True))
            if end > start
        ]

    def label_frames(self, frames: Iterable[np.ndarray]) -> Iterator[tuple[int, int, np.ndarray]]:
        """Yield `(shot_index, frame_index, frame)` for each frame, detecting cuts as it goes."""
        for frame in frames:
            self.update(frame)
            yield len(self.cut_frames) - 1, self.num_frames - 1, frame


def detect_shots(frames: Iterable[np.ndarray], config: ShotConfig | None = None) -> list[Shot]:
    """Shots of a whole frame sequence (consumes it; pose extraction uses `ShotDetector`)."""
    detector = ShotDetector(config)
    for frame in frames:
        detector.update(frame)
    return detector.shots
