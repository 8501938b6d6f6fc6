"""Encoder input throughput: windows/s from the per-clip feature cache vs recomputing them.

Usage: python benchmarks/bench_encoder_windows.py ROOT [--windows 2000] [--steps 20]
ROOT is an ingested dataset root (e.g. both Bandai sets in one root, docs/DATASETS.md). On its
training split it measures, in one run:
- building `WindowDataset` (the per-clip feature cache filled once) and the feature statistics;
- windows/s served from that cache (the un-augmented path: evaluation, statistics, erasure fit);
- the baseline: the same windows with features recomputed from positions (no cache);
- augmented windows (what training serves: augmentation forces a recompute);
- training steps/s and windows/s of the default encoder (forward, losses, backward, AdamW).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from models.encoders.contrastive_losses import encoder_losses
from models.encoders.features import window_features
from models.encoders.train import build_model
from models.encoders.train_config import TrainEncodersConfig
from models.encoders.training_data import build_training_data
from models.encoders.windows import WindowDataset, collate_windows


def _rate(count: int, seconds: float) -> float:
    return round(count / max(seconds, 1e-9), 1)


def serve(dataset: WindowDataset, items: np.ndarray) -> float:
    start = time.perf_counter()
    for item in items.tolist():
        dataset[item]
    return _rate(len(items), time.perf_counter() - start)


def recompute(dataset: WindowDataset, items: np.ndarray) -> float:
    """The no-cache baseline: features of each window from its positions."""
    width = dataset.index.window_frames
    start = time.perf_counter()
    for item in items.tolist():
        clip = dataset.clips[int(dataset.index.clip_indices[item])]
        first = int(dataset.index.starts[item])
        window_features(clip.positions[first : first + width], clip.fps, dataset.config)
    return _rate(len(items), time.perf_counter() - start)


def train_steps(config: TrainEncodersConfig, data, steps: int) -> dict[str, float]:
    model = build_model(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    batches = data.batches(start_step=0)
    coarse = torch.zeros(len(data.vocabulary.styles), dtype=torch.long)
    windows, start = 0, time.perf_counter()
    for _ in range(steps):
        batch = next(batches)
        output = model(batch.tokens, batch.descriptors)
        loss = encoder_losses(output, batch.style, batch.content, coarse, config.losses)["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        windows += len(batch)
    seconds = time.perf_counter() - start
    return {"steps_per_s": _rate(steps, seconds), "windows_per_s": _rate(windows, seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("--windows", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    config = TrainEncodersConfig(data_root=args.root, out="unused")
    start = time.perf_counter()
    data = build_training_data(config)
    build_s = round(time.perf_counter() - start, 1)
    items = np.random.default_rng(0).choice(len(data.plain), args.windows, replace=False)
    results = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "torch_threads": torch.get_num_threads(),
        "train_clips": len(data.clips),
        "train_windows": len(data.plain),
        "build_dataset_and_stats_s": build_s,
        "cached_windows_per_s": serve(data.plain, items),
        "recomputed_windows_per_s (baseline)": recompute(data.plain, items),
        "augmented_windows_per_s": serve(data.augmented, items),
        "train": train_steps(config, data, args.steps),
    }
    collate_windows([data.plain[0]])  # the collate path runs too
    for key, value in results.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
