"""Per-part composition: untargeted parts stay the source's, targeted parts follow the output."""

from __future__ import annotations

import numpy as np
import pytest

from models.diffusion.part_compose import compose_parts, kept_parts
from models.evaluation.motion_metrics import part_leakage
from storage.skeleton import BODY_PART_INDICES, JOINT_INDEX, rest_positions


def _swinging(frames: int = 60, amplitude: float = 0.0, turn: float = 0.0) -> np.ndarray:
    rest = np.repeat(rest_positions().astype(np.float64)[None], frames, axis=0)
    wave = amplitude * np.sin(np.arange(frames) / 4.0)[:, None]
    for joint in ("left_elbow", "left_wrist", "right_knee", "right_ankle", "head"):
        rest[:, JOINT_INDEX[joint], 2] += wave[:, 0]
    cos, sin = np.cos(turn), np.sin(turn)
    rotation = np.array([[cos, 0, sin], [0, 1, 0], [-sin, 0, cos]])
    return (rest @ rotation.T + np.array([1.0, 0.0, 2.0])).astype(np.float32)


def test_untargeted_parts_are_the_source_and_targeted_follow_the_output() -> None:
    source = _swinging()
    output = _swinging(amplitude=0.3, turn=0.4)  # moved, swung and turned
    composed = compose_parts(source, output, ["left_arm"])
    for part in ("right_arm", "left_leg", "right_leg", "torso"):
        joints = list(BODY_PART_INDICES[part])
        assert np.allclose(composed[:, joints], source[:, joints], atol=1e-5), part
    wrist, chest = JOINT_INDEX["left_wrist"], JOINT_INDEX["chest"]
    out_reach = np.linalg.norm(output[:, wrist] - output[:, chest], axis=-1)
    new_reach = np.linalg.norm(composed[:, wrist] - composed[:, chest], axis=-1)
    assert np.allclose(out_reach, new_reach, atol=1e-5)  # the stylized arm, re-attached
    assert not np.allclose(composed[:, wrist], source[:, wrist], atol=1e-3)
    assert part_leakage(composed, source, ["left_arm"]) < 0.05
    assert part_leakage(output, source, ["left_arm"]) > 0.2


def test_a_stylized_torso_carries_the_untargeted_arms() -> None:
    source = _swinging()
    output = _swinging(amplitude=0.3)
    composed = compose_parts(source, output, ["torso"])
    head = JOINT_INDEX["head"]
    assert np.allclose(composed[:, head], output[:, head], atol=1e-5)
    shoulder, chest = JOINT_INDEX["left_shoulder"], JOINT_INDEX["chest"]
    assert np.allclose(
        composed[:, shoulder] - composed[:, chest], source[:, shoulder] - source[:, chest]
    )
    with pytest.raises(ValueError, match="unknown body parts"):
        compose_parts(source, output, ["tail"])


def test_kept_parts_from_the_request() -> None:
    assert kept_parts("normal", "normal", {"arms": "angry"}) == ("torso", "left_leg", "right_leg")
    assert kept_parts("normal", "angry", {"legs": "normal"}) == ("left_leg", "right_leg")
    assert kept_parts("normal", "angry", {}) == ()
    assert kept_parts(None, "angry", {"legs": "normal"}) == ()
