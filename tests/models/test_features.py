"""Motion features on real Bandai Namco walks: shapes, invariances, contacts, frequency bands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from extract.mocap.bvh_import import import_bvh
from models.encoders.features import (
    NUM_TOKENS,
    ROOT_FEATURE_NAMES,
    ROOT_TOKEN,
    TOKEN_NAMES,
    FeatureConfig,
    FeatureStats,
    clip_frame_features,
    compute_feature_stats,
    descriptor_size,
    token_feature_mask,
    token_sizes,
    window_descriptors,
)
from storage.canonical import rotation_about_y
from storage.records import MotionClip
from storage.skeleton import JOINT_INDEX, rest_positions

FPS = 30.0
WINDOW = 60
LOW_BANDS = slice(0, 2)  # 0.5-1.5 Hz and 1.5-3 Hz
LEG_TOKENS = [TOKEN_NAMES.index("left_leg"), TOKEN_NAMES.index("right_leg")]
CONTACT = {name: ROOT_FEATURE_NAMES.index(f"{name}_contact") for name in ("left_toe", "right_toe")}


def _walk(bandai_dir: Path, style: str, take: str = "001") -> MotionClip:
    path = bandai_dir / f"dataset-1_walk_{style}_{take}.bvh"
    return import_bvh(path, dataset="bandai", source_key=path.name, style=style, content="walk")


@pytest.fixture(scope="module")
def walks(bandai_dir: Path) -> dict[str, MotionClip]:
    return {style: _walk(bandai_dir, style) for style in ("normal", "happy", "old", "tired")}


def _windows(positions: np.ndarray) -> list[np.ndarray]:
    return [positions[s : s + WINDOW] for s in range(0, len(positions) - WINDOW + 1, 15)]


def test_shapes_dtypes_and_padding(walks: dict[str, MotionClip]) -> None:
    clip = walks["normal"]
    tokens = clip_frame_features(clip.positions, FPS)
    assert token_sizes(FeatureConfig()) == (30, 18, 18, 24, 24, 8)
    assert tokens.shape == (clip.num_frames, NUM_TOKENS, 30) and tokens.dtype == np.float32
    mask = token_feature_mask()
    assert mask.sum() == sum(token_sizes())
    assert np.all(tokens[:, ~mask] == 0.0)
    descriptors = window_descriptors(clip.positions[:WINDOW], FPS)
    assert descriptor_size(FeatureConfig()) == 6
    assert descriptors.shape == (5, 6) and descriptors.dtype == np.float32
    no_frequency = FeatureConfig(use_frequency_features=False)
    assert window_descriptors(clip.positions[:WINDOW], FPS, no_frequency).shape == (5, 6)
    assert np.isfinite(tokens).all() and np.isfinite(descriptors).all()


@pytest.mark.parametrize("angle", [0.7, -2.4, np.pi])
def test_features_invariant_to_translation_and_yaw(walks: dict[str, MotionClip], angle) -> None:
    clip = walks["happy"]
    moved = clip.positions.astype(np.float64) @ rotation_about_y(angle).T + [4.0, 0.0, -7.5]
    moved = moved.astype(np.float32)  # (T, J, 3)
    original, changed = clip_frame_features(clip.positions, FPS), clip_frame_features(moved, FPS)
    assert np.abs(moved - clip.positions).max() > 1.0  # the clip really moved
    np.testing.assert_allclose(changed, original, atol=2e-3)
    np.testing.assert_allclose(
        window_descriptors(moved[:WINDOW], FPS), window_descriptors(clip.positions[:WINDOW], FPS),
        atol=1e-4,
    )  # fmt: skip


def test_root_velocity_is_forward_in_the_facing_frame(walks: dict[str, MotionClip]) -> None:
    turned = (walks["normal"].positions @ rotation_about_y(2.0).T).astype(np.float32)
    root = clip_frame_features(turned, FPS)[:, ROOT_TOKEN]  # (T, F_max)
    forward, lateral = root[:, 1], root[:, 2]
    assert 0.8 < np.median(forward) < 2.0  # a walk at 0.8-2 m/s whatever its world heading
    assert abs(np.median(lateral)) < 0.2
    assert 0.8 < np.median(root[:, 0]) < 1.1  # pelvis height in metres


def test_contacts_on_during_stance_off_during_swing(walks: dict[str, MotionClip]) -> None:
    for clip in walks.values():
        root = clip_frame_features(clip.positions, FPS)[:, ROOT_TOKEN]  # (T, F_max)
        for side, other in (("left", "right"), ("right", "left")):
            toe = clip.positions[:, JOINT_INDEX[f"{side}_toe"], 1]
            other_toe = clip.positions[:, JOINT_INDEX[f"{other}_toe"], 1]
            stance = other_toe - toe > 0.05  # the other foot is clearly in the air
            swing = toe > 0.10
            flags = root[:, CONTACT[f"{side}_toe"]]
            assert stance.sum() > 5
            assert flags[stance].mean() > 0.85, f"{clip.style} {side}: stance contacts off"
            if swing.any():
                assert flags[swing].mean() < 0.05, f"{clip.style} {side}: swing contacts on"


def test_real_walk_energy_lies_in_low_bands(walks: dict[str, MotionClip]) -> None:
    for clip in walks.values():
        descriptors = np.stack([window_descriptors(w, FPS) for w in _windows(clip.positions)])
        low = descriptors[:, :, LOW_BANDS].sum(axis=-1)  # (N, 5)
        assert low.mean() > 0.7, f"{clip.style}: {low.mean(axis=0)}"
        assert low[:, [i for i in LEG_TOKENS]].mean() > 0.75
        assert np.all(descriptors[:, :, :4].sum(axis=-1) <= 1.0 + 1e-5)


@pytest.mark.parametrize(("frequency", "band"), [(5.0, 2), (1.0, 0), (2.0, 1), (8.0, 3)])
def test_synthetic_oscillation_lands_in_its_band(frequency: float, band: int) -> None:
    time = np.arange(WINDOW) / FPS
    positions = np.repeat(rest_positions()[None], WINDOW, axis=0).astype(np.float64)  # (W, J, 3)
    swing = 0.03 * np.sin(2 * np.pi * frequency * time)  # 3 cm
    for joint in ("left_elbow", "left_wrist"):
        positions[:, JOINT_INDEX[joint], 2] += swing
    descriptors = window_descriptors(positions.astype(np.float32), FPS)
    left_arm = descriptors[TOKEN_NAMES.index("left_arm")]
    assert int(np.argmax(left_arm[:4])) == band and left_arm[band] > 0.8, left_arm
    velocity = np.diff(swing, append=2 * swing[-1] - swing[-2]) * FPS  # forward differences
    assert left_arm[5] == pytest.approx(np.abs(velocity).mean() * 2 / 3, rel=1e-3)  # 2 of 3 move
    assert left_arm[4] == pytest.approx(0.03 / np.sqrt(2) * np.sqrt(2 / 3), rel=0.1)
    np.testing.assert_allclose(descriptors[TOKEN_NAMES.index("torso")], 0.0, atol=1e-5)


def test_stats_round_trip_and_padding(walks: dict[str, MotionClip]) -> None:
    pairs = [
        (clip_frame_features(w, FPS), window_descriptors(w, FPS))
        for clip in walks.values()
        for w in _windows(clip.positions)
    ]
    stats = compute_feature_stats(pairs)
    mask = token_feature_mask()
    assert np.all(stats.std[~mask] == 1.0) and np.all(stats.mean[~mask] == 0.0)
    pelvis_x = 0  # the pelvis's own local x is 0 by construction: std stays 1
    assert stats.std[0, pelvis_x] == 1.0
    again = FeatureStats.from_dict(stats.to_dict())
    np.testing.assert_array_equal(again.mean, stats.mean)
    np.testing.assert_array_equal(again.descriptor_std, stats.descriptor_std)
    tokens, descriptors = pairs[0]
    numpy_tokens, numpy_descriptors = stats.normalise(tokens, descriptors)
    torch_tokens, torch_descriptors = stats.normalise(
        torch.from_numpy(tokens), torch.from_numpy(descriptors)
    )
    np.testing.assert_allclose(torch_tokens.numpy(), numpy_tokens, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(torch_descriptors.numpy(), numpy_descriptors, atol=1e-5)
    assert np.all(numpy_tokens[:, ~mask] == 0.0)


def test_feature_config_round_trip() -> None:
    config = FeatureConfig(window_frames=90, frequency_bands_hz=((1.0, 2.0), (2.0, 4.0)))
    assert FeatureConfig.from_dict(config.to_dict()) == config
    assert descriptor_size(config) == 4
