"""Training windows on the real ingested Bandai Namco set: split, index, dataset, augmentation."""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from extract.mocap.ingest import MocapIngestConfig, ingest_mocap
from models.encoders.augment import AugmentConfig, augment_window, mirror_positions, resample_window
from models.encoders.batch_sampler import StyleBalancedBatchSampler
from models.encoders.features import (
    ROOT_FEATURE_NAMES,
    ROOT_TOKEN,
    TOKEN_NAMES,
    FeatureConfig,
    FeatureError,
    clip_frame_features,
    token_feature_mask,
    window_descriptors,
)
from models.encoders.windows import (
    LabelVocabulary,
    UnlabelledClipError,
    WindowBatch,
    WindowDataset,
    WindowIndex,
    collate_windows,
    load_clips,
    split_note,
    split_of,
)
from storage.records import MotionClip
from tests.bandai_split import BANDAI_SPLIT

CONFIG = FeatureConfig()
W = CONFIG.window_frames
NO_AUGMENT = AugmentConfig(noise=False, rotate=False, speed_change=False, mirror=False)


@pytest.fixture(scope="module")
def root(bandai_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bandai") / "ds"
    ingest_mocap(MocapIngestConfig(str(bandai_dir), str(out), **BANDAI_SPLIT))
    return out


@pytest.fixture(scope="module")
def clips(root: Path) -> list[MotionClip]:
    return load_clips(root, splits=None)


@pytest.fixture(scope="module")
def vocabulary(clips: list[MotionClip]) -> LabelVocabulary:
    return LabelVocabulary.from_clips(clips)


@pytest.fixture(scope="module")
def train(root: Path, vocabulary: LabelVocabulary) -> tuple[list[MotionClip], WindowDataset]:
    train_clips = load_clips(root, splits="train")
    index = WindowIndex.from_clips(train_clips, vocabulary, CONFIG)
    return train_clips, WindowDataset(train_clips, index, CONFIG)


def _walk(clips: list[MotionClip], style: str = "happy") -> MotionClip:
    return next(c for c in clips if (c.content, c.style, c.take) == ("walk", style, "001"))


def test_training_reads_the_split_the_ingest_stored(root: Path, clips: list[MotionClip]) -> None:
    assert len(clips) == 174
    splits = {clip.clip_id: split_of(clip) for clip in clips}
    test = [c for c in clips if splits[c.clip_id] == "test"]
    held_contents = Counter(c.content for c in test if c.content in ("guide", "byebye"))
    assert held_contents == {"guide": 15, "byebye": 15}
    assert sorted(c.take for c in test if c.content == "walk") == ["002"] * 15
    assert len(test) == 45
    assert all(split_of(c) == c.split for c in clips)
    val = [c for c in clips if splits[c.clip_id] == "val"]
    assert 0.04 * 129 <= len(val) <= 0.2 * 129
    assert [split_of(c) for c in clips] == list(splits.values())  # deterministic
    train_clips = load_clips(root, splits="train")
    assert len(train_clips) == 174 - 45 - len(val)
    assert {c.content for c in train_clips} >= {"walk", "run", "dash", "bow", "bye", "punch"}
    assert load_clips(root, splits=("val", "test"), datasets="bandai_namco_1") != []
    assert load_clips(root, splits="train", datasets="no-such-set") == []
    note = split_note(root)
    assert "guide" in note and "walk" in note and "002" in note


def test_vocabulary_lookups(clips: list[MotionClip], vocabulary: LabelVocabulary) -> None:
    assert len(vocabulary.styles) == 15 and len(vocabulary.contents) == 16
    assert vocabulary.content_index("moonwalk") == -1 and vocabulary.content_index(None) == -1
    assert vocabulary.styles[vocabulary.style_index("happy")] == "happy"
    with pytest.raises(KeyError, match="zombie"):
        vocabulary.style_index("zombie")
    unlabelled = dataclasses.replace(clips[0], style=None)
    with pytest.raises(UnlabelledClipError, match=clips[0].clip_id):
        WindowIndex.from_clips([unlabelled], vocabulary, CONFIG)
    index = WindowIndex.from_clips([unlabelled], vocabulary, CONFIG, allow_unlabelled=True)
    assert set(index.styles.tolist()) == {-1}
    assert LabelVocabulary.from_dict(vocabulary.to_dict()) == vocabulary


def test_window_index_counts_and_skips(clips, vocabulary, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="models.encoders.windows"):
        index = WindowIndex.from_clips(clips, vocabulary, CONFIG)
    short = [c.clip_id for c in clips if c.num_frames < W]
    assert len(short) == 6 and index.skipped_clip_ids == tuple(short) and index.num_skipped == 6
    assert all(clip_id in caplog.text for clip_id in short)
    expected = sum(
        (c.num_frames - W) // CONFIG.stride_frames + 1 for c in clips if c.num_frames >= W
    )
    assert len(index) == expected
    ends = index.starts + W
    lengths = np.array([clips[i].num_frames for i in index.clip_indices])
    assert np.all(ends <= lengths) and np.all(index.starts % CONFIG.stride_frames == 0)
    styles = [vocabulary.style_index(clips[i].style) for i in index.clip_indices]
    assert index.styles.tolist() == styles


def test_non_finite_features_name_the_clip(clips, vocabulary) -> None:
    clip = _walk(clips)
    positions = clip.positions.copy()
    positions[10, 7, 0] = 3e38  # finite, but its velocity overflows float32
    broken = dataclasses.replace(clip, positions=positions)
    index = WindowIndex.from_clips([broken], vocabulary, CONFIG)
    with pytest.raises(FeatureError, match=clip.clip_id), np.errstate(over="ignore"):
        WindowDataset([broken], index, CONFIG)


def test_items_batches_and_loader(train) -> None:
    _, dataset = train
    item = dataset[3]
    assert item["tokens"].shape == (W, 6, 30) and item["tokens"].dtype == torch.float32
    assert item["descriptors"].shape == (5, 6) and item["descriptors"].dtype == torch.float32
    for name in ("style", "content", "clip"):
        assert item[name].dtype == torch.long and item[name].shape == ()
    batch = collate_windows([dataset[i] for i in range(4)])
    assert isinstance(batch, WindowBatch) and len(batch) == 4
    assert batch.tokens.shape == (4, W, 6, 30) and batch.descriptors.shape == (4, 5, 6)
    assert batch.to("cpu").style.shape == (4,)
    sampler = StyleBalancedBatchSampler(dataset.index.styles, 4, 3, seed=1)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_windows)
    first = next(iter(loader))
    assert first.tokens.shape == (12, W, 6, 30)


def test_stats_normalise_training_windows(train) -> None:
    clips, dataset = train
    stats = dataset.compute_stats()
    normalised = WindowDataset(clips, dataset.index, CONFIG, stats=stats)
    items = [normalised[i] for i in range(len(normalised))]
    tokens = torch.stack([item["tokens"] for item in items]).reshape(-1, 6, 30).numpy()
    descriptors = torch.stack([item["descriptors"] for item in items]).numpy()
    varying = stats.std != 1.0  # real, non-constant dims
    np.testing.assert_allclose(tokens.mean(axis=0)[varying], 0.0, atol=1e-3)
    np.testing.assert_allclose(tokens.std(axis=0)[varying], 1.0, atol=1e-3)
    assert np.all(tokens[:, ~token_feature_mask()] == 0.0)
    np.testing.assert_allclose(descriptors.mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(descriptors.std(axis=0), 1.0, atol=1e-3)


def _signs(size: int) -> np.ndarray:
    return np.tile([-1.0, 1.0, 1.0], size // 3)  # x of every position and velocity flips


def test_mirroring_twice_is_identity_and_swaps_sides(clips) -> None:
    positions = _walk(clips).positions
    np.testing.assert_array_equal(mirror_positions(mirror_positions(positions)), positions)
    original = clip_frame_features(positions, 30.0)
    mirrored = clip_frame_features(mirror_positions(positions), 30.0)
    for left, right, size in (("left_arm", "right_arm", 18), ("left_leg", "right_leg", 24)):
        li, ri = TOKEN_NAMES.index(left), TOKEN_NAMES.index(right)
        np.testing.assert_allclose(
            mirrored[:, li, :size], original[:, ri, :size] * _signs(size), atol=1e-4
        )
        np.testing.assert_allclose(
            mirrored[:, ri, :size], original[:, li, :size] * _signs(size), atol=1e-4
        )
    np.testing.assert_allclose(mirrored[:, 0], original[:, 0] * _signs(30), atol=1e-4)
    root, root_mirrored = original[:, ROOT_TOKEN], mirrored[:, ROOT_TOKEN]
    np.testing.assert_allclose(root_mirrored[:, :4], root[:, :4] * [1, 1, -1, -1], atol=1e-4)
    contact = ROOT_FEATURE_NAMES.index("left_ankle_contact")
    swap = [contact + 2, contact + 3, contact, contact + 1]  # left <-> right ankle/toe
    np.testing.assert_array_equal(root_mirrored[:, contact : contact + 4], root[:, swap])
    descriptors = window_descriptors(positions[:W], 30.0)
    mirrored_descriptors = window_descriptors(mirror_positions(positions[:W]), 30.0)
    np.testing.assert_allclose(mirrored_descriptors[[0, 2, 1, 4, 3]], descriptors, atol=1e-4)


def test_rotation_augmentation_changes_no_feature(clips) -> None:
    clip, rng = _walk(clips), np.random.default_rng(0)
    rotate_only = dataclasses.replace(NO_AUGMENT, rotate=True)
    window = augment_window(clip.positions, 30, W, rotate_only, rng)
    assert np.abs(window - clip.positions[30 : 30 + W]).max() > 0.1
    reference = clip.positions[30 : 30 + W]
    np.testing.assert_allclose(
        clip_frame_features(window, 30.0), clip_frame_features(reference, 30.0), atol=2e-3
    )
    np.testing.assert_allclose(
        window_descriptors(window, 30.0), window_descriptors(reference, 30.0), atol=1e-4
    )


def test_speed_change_keeps_window_length(clips) -> None:
    positions = _walk(clips).positions  # (T, J, 3)
    last = len(positions) - W
    for start in (0, last // 2, last):
        for speed in (0.9, 1.0, 1.1):
            window = resample_window(positions, start, W, speed)
            assert window.shape == (W, *positions.shape[1:]) and window.dtype == np.float32
    np.testing.assert_allclose(resample_window(positions, 40, W, 1.0), positions[40 : 40 + W])
    slow = window_descriptors(resample_window(positions, 40, W, 0.9), 30.0)[:, 5]
    fast = window_descriptors(resample_window(positions, 40, W, 1.1), 30.0)[:, 5]
    assert np.all(fast > slow)  # faster playback, faster joints
    assert resample_window(positions[: W + 2], 0, W, 1.1).shape[0] == W  # no room: slowed down


def test_augmented_items_are_random_but_seeded(train) -> None:
    clips, dataset = train
    augmented = WindowDataset(clips, dataset.index, CONFIG, augment=True)
    torch.manual_seed(5)
    first = augmented[7]["tokens"]
    torch.manual_seed(5)
    assert torch.equal(augmented[7]["tokens"], first)
    assert first.shape == dataset[7]["tokens"].shape and torch.isfinite(first).all()
    assert not torch.allclose(first, dataset[7]["tokens"])
    noise_only = dataclasses.replace(NO_AUGMENT, noise=True)
    clip = _walk(clips)
    noisy = augment_window(clip.positions, 0, W, noise_only, np.random.default_rng(1))
    moved = np.linalg.norm(noisy - clip.positions[:W], axis=-1)
    assert 0.005 < moved.mean() < 0.03  # about 1 cm


def test_balanced_sampler(train) -> None:
    _, dataset = train
    styles = dataset.index.styles.copy()
    styles[:5] = -1  # unlabelled windows are never sampled
    sampler = StyleBalancedBatchSampler(styles, styles_per_batch=4, windows_per_style=6, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) == (len(styles) - 5) // 24
    for batch in batches:
        assert len(set(batch)) == 24 and min(batch) >= 5
        assert sorted(Counter(styles[batch].tolist()).values()) == [6, 6, 6, 6]
    assert list(sampler) == batches
    sampler.set_epoch(1)
    assert list(sampler) != batches
    ranks = [StyleBalancedBatchSampler(styles, 4, 6, seed=3, rank=r, world_size=2) for r in (0, 1)]
    first, second = (list(r) for r in ranks)
    assert len(first) == len(second) == len(batches) // 2
    assert first[0] == batches[0] and second[0] == batches[1]
    with pytest.raises(ValueError, match="styles"):
        StyleBalancedBatchSampler(styles, styles_per_batch=20, windows_per_style=2)


def test_retarget_bones_feeds_canonical_proportions(train) -> None:
    from storage.canonical import REST_BONE_LENGTHS

    clips, _ = train
    config = FeatureConfig(retarget_bones=True)
    index = WindowIndex.from_clips(clips[:3], LabelVocabulary.from_clips(clips), config)
    dataset = WindowDataset(clips[:3], index, config)
    arm = dataset.clips[0].positions[:, 7] - dataset.clips[0].positions[:, 6]  # elbow -> wrist
    np.testing.assert_allclose(np.linalg.norm(arm, axis=-1), REST_BONE_LENGTHS[7], rtol=1e-5)
    assert not np.allclose(
        dataset.raw_window(0)[0], WindowDataset(clips[:3], index).raw_window(0)[0]
    )
