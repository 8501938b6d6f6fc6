"""Small real-shaped clips for storage tests: the rest pose walking forward with swinging legs."""

from __future__ import annotations

import numpy as np

from storage.canonical import place_in_canonical_frame, root_trajectory
from storage.records import MotionClip, SourceKind, make_clip_id
from storage.skeleton import JOINT_INDEX, NUM_JOINTS, rest_positions


def walking_positions(num_frames: int, speed: float = 1.2, fps: float = 30.0) -> np.ndarray:
    time = np.arange(num_frames) / fps
    positions = np.repeat(rest_positions()[None], num_frames, axis=0).astype(np.float64)
    positions[:, :, 2] += speed * time[:, None]  # (T, J): forward along +z
    for side, phase in (("left", 0.0), ("right", np.pi)):
        swing = 0.25 * np.sin(2 * np.pi * time + phase)
        for joint in ("knee", "ankle", "toe"):
            positions[:, JOINT_INDEX[f"{side}_{joint}"], 2] += swing
    return place_in_canonical_frame(positions)


def make_clip(index: int, num_frames: int = 40, style: str = "happy", **labels) -> MotionClip:
    positions = walking_positions(num_frames)
    return MotionClip(
        clip_id=make_clip_id("test", index),
        positions=positions,
        confidence=np.ones((num_frames, NUM_JOINTS), np.float32),
        root_trajectory=root_trajectory(positions),
        fps=30.0,
        source_kind=SourceKind.MOCAP,
        source_uri=f"file:///data/clip_{index:03d}.bvh",
        dataset=labels.pop("dataset", "unit"),
        licence="CC0",
        extractor="tests",
        extractor_version="1",
        style=style,
        **labels,
    )
