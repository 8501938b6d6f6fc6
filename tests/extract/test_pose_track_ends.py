"""Isolated detections at a track's ends (bridged by a long gap) are dropped, nothing else."""

from __future__ import annotations

import numpy as np

from extract.video.pose_tracking import (
    PoseDetection,
    TrackBuilder,
    TrackingConfig,
    trim_isolated_ends,
)


def _detection(x: float) -> PoseDetection:
    image = np.zeros((33, 3), np.float32)
    image[:, 0] = x + np.linspace(0, 0.1, 33)
    image[:, 1] = np.linspace(0.2, 0.8, 33)
    world = np.random.default_rng(0).normal(size=(33, 3)).astype(np.float32) * 0.3
    ones = np.ones(33, np.float32)
    return PoseDetection.from_landmarks(world, image, ones, ones, (640, 360))


def _builder(frames: list[int]) -> TrackBuilder:
    builder = TrackBuilder()
    for frame in frames:
        builder.add(frame, _detection(0.3), 734.0)
    return builder


def test_a_lone_head_and_tail_across_long_gaps_are_dropped() -> None:
    frames = [6, *range(26, 60), 70, 71]  # 1 frame, a 0.63 s gap, the track, a gap, 2 frames
    trimmed = trim_isolated_ends(_builder(frames), 30.0, TrackingConfig())
    assert trimmed.frame_indices == list(range(26, 60))


def test_short_gaps_and_long_end_runs_are_kept() -> None:
    config = TrackingConfig()
    steady = [*range(0, 4), *range(8, 40)]  # a 0.13 s gap only
    assert trim_isolated_ends(_builder(steady), 30.0, config).frame_indices == steady
    long_head = [*range(0, 10), *range(30, 60)]  # 10 frames before the gap: a real run
    assert trim_isolated_ends(_builder(long_head), 30.0, config).frame_indices == long_head
