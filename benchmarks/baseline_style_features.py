"""Hand-crafted style baselines on the encoder split: how far window statistics get on held-out
contents, to put the learned encoders' numbers in context.

Usage: python benchmarks/baseline_style_features.py ROOT

For every window (the encoders' windows and split, `models.windows`), simple statistics of the
un-normalised features: mean local joint positions (posture), their std, mean and std of joint
speeds, per-part frequency/amplitude descriptors; standardised on the training windows; cosine
kNN (k = 5) from the training windows, overall and per held-out content, as
`stylemotion eval-encoders` reports it for a trained run.
"""

from __future__ import annotations

import argparse

import numpy as np

from models.features import FeatureConfig, token_sizes
from models.probes import knn_accuracy
from models.windows import LabelVocabulary, WindowDataset, WindowIndex, load_clips

GROUPS = {
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
    }
    contents = np.array([clips[c].content for c in index.clip_indices])
    return stats, index.styles, contents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root")
    args = parser.parse_args()
    train, test = load_clips(args.root, ("train",)), load_clips(args.root, ("test",))
    vocabulary, config = LabelVocabulary.from_clips(train + test), FeatureConfig()
    g, g_styles, _ = window_statistics(train, vocabulary, config)
    q, q_styles, q_contents = window_statistics(test, vocabulary, config)
    names = sorted(set(q_contents.tolist()))
    print(f"| features | all ({len(q_styles)} windows) | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for label, keys in GROUPS.items():
        gx, qx = (np.concatenate([s[k] for k in keys], 1) for s in (g, q))
        mean, std = gx.mean(0), gx.std(0) + 1e-6
        gx, qx = (gx - mean) / std, (qx - mean) / std
        overall = knn_accuracy(gx, g_styles, qx, q_styles).accuracy
        parts = [
            knn_accuracy(gx, g_styles, qx[q_contents == n], q_styles[q_contents == n]).accuracy
            for n in names
        ]
        print(f"| {label} | {overall:.3f} | " + " | ".join(f"{p:.3f}" for p in parts) + " |")


if __name__ == "__main__":
    main()
