"""Hand-checked cases for every stylization metric in models.evaluation.motion_metrics."""

from __future__ import annotations

import numpy as np
import pytest

from models.evaluation.motion_metrics import (
    ANKLES,
    MetricError,
    bone_length_std,
    diversity,
    foot_skate,
    frechet_distance,
    key_joint_error,
    mean_pairwise_distance,
    part_leakage,
    root_trajectory_error,
    speed_ratio,
    timing_correlation,
)
from storage.canonical import rotation_about_y
from storage.skeleton import FOOT_JOINTS, JOINT_INDEX, rest_positions

FPS = 30.0


def standing(num_frames: int = 30) -> np.ndarray:
    """The rest pose held still, feet on the floor: (T, J, 3)."""
    return np.repeat(rest_positions()[None], num_frames, axis=0).astype(np.float64)


def slid(speed_m_s: float, num_frames: int = 30) -> np.ndarray:
    """The whole standing body translated along x at `speed_m_s`."""
    clip = standing(num_frames)
    clip[..., 0] += speed_m_s * np.arange(num_frames)[:, None] / FPS
    return clip


def test_still_feet_are_in_contact_and_do_not_skate() -> None:
    result = foot_skate(standing(), FPS)
    assert result.contact_pairs == len(FOOT_JOINTS) * 29 and result.ratio == 0.0


def test_feet_sliding_at_1_m_s_on_the_floor_skate_every_pair() -> None:
    assert foot_skate(slid(1.0), FPS).ratio == 1.0
    assert foot_skate(slid(0.3), FPS).ratio == 0.0  # below the 0.5 m/s threshold


def test_lifted_feet_are_not_in_contact() -> None:
    clip = slid(1.0)
    clip[..., 1] += 0.2
    result = foot_skate(clip, FPS)
    assert result.contact_pairs == 0 and result.ratio == 0.0


def test_contact_needs_both_adjacent_frames_low() -> None:
    clip = slid(1.0, num_frames=4)
    toe = JOINT_INDEX["left_toe"]
    clip[1::2, toe, 1] += 0.2  # left toe alternates low/high: never low in two adjacent frames
    result = foot_skate(clip, FPS)
    assert result.contact_pairs == 3 * 3 and result.skating_pairs == 9  # the other three feet


def test_root_trajectory_error_is_the_ground_plane_distance() -> None:
    source = standing()
    moved = source + np.array([0.3, 0.7, 0.4])  # the 0.7 m vertical shift does not count
    assert root_trajectory_error(moved, source) == pytest.approx(0.5)
    assert root_trajectory_error(moved[:10], source) == pytest.approx(0.5)  # common prefix


def test_key_joint_error_ignores_placement_and_sees_a_moved_wrist() -> None:
    source = standing()
    placed = source @ rotation_about_y(1.0).T + np.array([2.0, 0.0, -1.0])
    assert key_joint_error(placed, source) == pytest.approx(0.0, abs=1e-9)
    moved = source.copy()
    moved[:, JOINT_INDEX["left_wrist"], 1] -= 0.14
    assert key_joint_error(moved, source) == pytest.approx(0.14 / 7)


def test_frechet_distance_is_zero_for_identical_sets_and_grows_with_a_mean_shift() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 4))
    features -= features.mean(axis=0)  # so scaling does not move the mean
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    shifts = [frechet_distance(features, features + np.array([d, 0, 0, 0])) for d in (1, 2, 3)]
    assert shifts == pytest.approx([1.0, 4.0, 9.0], rel=1e-4)  # |mean gap|^2, same covariance
    wider = frechet_distance(features, features * 2.0)  # Tr(S + 4S - 2*2S) = Tr(S) ~ 4
    assert wider == pytest.approx(np.trace(np.cov(features, rowvar=False)), rel=1e-3)


def test_frechet_distance_guards_small_and_singular_sets() -> None:
    rng = np.random.default_rng(1)
    few = rng.normal(size=(3, 8))  # fewer samples than dims: singular covariances
    assert np.isfinite(frechet_distance(few, few + 1.0))
    with pytest.raises(MetricError, match="samples"):
        frechet_distance(few[:1], few)
    with pytest.raises(MetricError, match=r"\(N, D\)"):
        frechet_distance(few, few[:, :4])


def test_diversity_is_the_mean_pairwise_distance_within_groups() -> None:
    assert mean_pairwise_distance(np.zeros((3, 2))) == 0.0
    pair = np.array([[0.0, 0.0], [0.0, 2.0]])
    triangle = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])  # sides 3, 4, 5
    assert diversity([pair, triangle]) == pytest.approx((2.0 + 4.0) / 2)
    assert diversity([np.zeros((1, 2))]) is None  # one sample per group: no spread to measure


def test_part_leakage_is_zero_for_a_local_change_and_undefined_without_one() -> None:
    source = standing()
    arm = source.copy()
    arm[:, [JOINT_INDEX["left_elbow"], JOINT_INDEX["left_wrist"]], 1] -= 0.2
    assert part_leakage(arm, source, ["left_arm"]) == pytest.approx(0.0, abs=1e-9)
    assert part_leakage(arm, source, ["right_arm"]) is None  # the targeted part did not move
    both = arm.copy()
    both[:, JOINT_INDEX["right_wrist"], 1] -= 0.2  # an untargeted wrist moves as much
    expected = (0.2 / 15) / (0.4 / 3)  # 1 of 15 untargeted joints vs 2 of 3 targeted, 0.2 m
    assert part_leakage(both, source, ["left_arm"]) == pytest.approx(expected)
    with pytest.raises(MetricError, match="tail"):
        part_leakage(arm, source, ["tail"])


def test_bone_length_std_sees_a_stretching_bone() -> None:
    assert bone_length_std(standing()) == pytest.approx(0.0, abs=1e-7)
    stretched = standing(10)
    stretched[1::2, JOINT_INDEX["left_wrist"], 0] += 0.02  # forearm 0.25 / 0.27 m alternately
    assert bone_length_std(stretched) == pytest.approx(0.01 / 18, rel=1e-3)  # one of 18 bones


def waving(amplitude: float = 0.2, shift_frames: int = 0, num_frames: int = 60) -> np.ndarray:
    """Standing, the right wrist waving sideways at 1 Hz (30 fps); `shift_frames` delays it."""
    positions = standing(num_frames)
    t = (np.arange(num_frames) - shift_frames) / 30.0
    positions[:, JOINT_INDEX["right_wrist"], 0] += amplitude * np.sin(2 * np.pi * t)
    return positions


def test_speed_ratio_is_one_for_the_source_and_two_for_twice_the_amplitude() -> None:
    source = waving()
    assert speed_ratio(source, source, 30.0) == pytest.approx(1.0)
    assert speed_ratio(waving(0.4), source, 30.0) == pytest.approx(2.0, rel=1e-6)
    assert speed_ratio(standing(60), source, 30.0) == pytest.approx(0.0)
    assert speed_ratio(source, standing(60), 30.0) is None  # a still source: no ratio
    assert speed_ratio(standing(60), standing(60), 30.0, ANKLES) is None


def test_timing_correlation_rewards_when_not_how_much() -> None:
    source = waving()
    assert timing_correlation(source, source, 30.0) == pytest.approx(1.0)
    assert timing_correlation(waving(0.05), source, 30.0) == pytest.approx(
        1.0
    )  # smaller, same time
    late = timing_correlation(waving(shift_frames=7), source, 30.0)
    assert late is not None and late < 0.0  # a quarter period late: speed peaks at the troughs
    assert timing_correlation(standing(60), source, 30.0) == 0.0  # frozen: no timing kept
    assert timing_correlation(standing(60), standing(60), 30.0) is None
