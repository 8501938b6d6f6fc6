"""Hand-crafted style baselines on the encoder split: how far window statistics get on held-out
contents, to put the learned encoders' numbers in context.

Usage: python benchmarks/baseline_style_features.py ROOT

Also the performer shortcut (issue 15): "bone lengths only" is each window's clip's mean canonical
bone lengths, nothing about motion; a style accuracy it reaches is read from who performed, not
how. Columns: every held-out window, then per dataset/content of the queries.

For every window (the encoders' windows and split, `models.encoders.windows`), simple statistics of
the un-normalised features: mean local joint positions (posture), their std, mean and std of joint
speeds, per-part frequency/amplitude descriptors; standardised on the training windows; cosine
kNN (k = 5) from the training windows, overall and per held-out content, as
`stylemotion eval-encoders` reports it for a trained run.
"""

from __future__ import annotations

import argparse

import numpy as np

from models.encoders.features import FeatureConfig, token_sizes
from models.encoders.probes import knn_accuracy
from models.encoders.windows import (
    LabelVocabulary,
    WindowDataset,
    WindowIndex,
    load_clips,
    retargeted,
)
from storage.skeleton import PARENTS

_BONES = [(joint, parent) for joint, parent in enumerate(PARENTS) if parent >= 0]


def clip_bone_lengths(clip) -> np.ndarray:
    """`(B,)` mean length of every canonical bone over the clip (metres)."""
    children, parents = zip(*_BONES, strict=True)
    vectors = clip.positions[:, list(children)] - clip.positions[:, list(parents)]
    return np.linalg.norm(vectors, axis=-1).mean(0)


GROUPS = {
    "bone lengths only (performer proportions)": ("bones",),
    "posture (mean positions)": ("pos_mean",),
    "posture + speed stats": ("pos_mean", "speed_mean", "speed_std"),
    "all statistics + descriptors": ("pos_mean", "pos_std", "speed_mean", "speed_std", "desc"),
}


def window_statistics(clips, vocabulary, config) -> tuple[dict, np.ndarray, np.ndarray]:
    index = WindowIndex.from_clips(clips, vocabulary, config)
    dataset = WindowDataset(clips, index, config)
    windows = [dataset.raw_window(i) for i in range(len(index))]
    tokens = np.array([w[0] for w in windows])  # (N, W, 6, F)
    descriptors = np.array([w[1] for w in windows])  # (N, 5, D)
    sizes = token_sizes(config)
    positions = np.concatenate([tokens[:, :, p, : sizes[p] // 2] for p in range(5)], -1)
    velocity = np.concatenate([tokens[:, :, p, sizes[p] // 2 : sizes[p]] for p in range(5)], -1)
    speed = np.linalg.norm(velocity.reshape(*velocity.shape[:2], -1, 3), axis=-1)  # (N, W, J)
    stats = {
        "pos_mean": positions.mean(1),
        "pos_std": positions.std(1),
        "speed_mean": speed.mean(1),
        "speed_std": speed.std(1),
        "desc": descriptors.reshape(len(descriptors), -1),
        "bones": np.array([clip_bone_lengths(clips[c]) for c in index.clip_indices]),
    }
    contents = np.array([f"{clips[c].dataset}/{clips[c].content}" for c in index.clip_indices])
    return stats, index.styles, contents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root")
    parser.add_argument(
        "--retarget", action="store_true", help="canonical bone lengths first (retarget_bones)"
    )
    args = parser.parse_args()
    train, test = load_clips(args.root, ("train",)), load_clips(args.root, ("test",))
    vocabulary, config = (
        LabelVocabulary.from_clips(train + test),
        FeatureConfig(retarget_bones=args.retarget),
    )
    if args.retarget:  # the bone-length group must see the clips the features see
        train, test = [retargeted(c) for c in train], [retargeted(c) for c in test]
    g, g_styles, _ = window_statistics(train, vocabulary, config)
    q, q_styles, q_contents = window_statistics(test, vocabulary, config)
    q_datasets = np.array([cell.split("/")[0] for cell in q_contents])
    groups = {name: q_datasets == name for name in sorted(set(q_datasets.tolist()))}
    groups |= {name: q_contents == name for name in sorted(set(q_contents.tolist()))}
    names = list(groups)
    print(f"| features | all ({len(q_styles)} windows) | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for label, keys in GROUPS.items():
        gx, qx = (np.concatenate([s[k] for k in keys], 1) for s in (g, q))
        mean, std = gx.mean(0), gx.std(0) + 1e-6
        gx, qx = (gx - mean) / std, (qx - mean) / std
        overall = knn_accuracy(gx, g_styles, qx, q_styles).accuracy
        parts = [
            knn_accuracy(gx, g_styles, qx[mask], q_styles[mask]).accuracy
            for mask in groups.values()
        ]
        print(f"| {label} | {overall:.3f} | " + " | ".join(f"{p:.3f}" for p in parts) + " |")


if __name__ == "__main__":
    main()
