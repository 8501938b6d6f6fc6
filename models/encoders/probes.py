"""Probes that score embeddings: kNN accuracy, linear-probe accuracy, and a 2-D projection.

Owns the measuring instruments of encoder evaluation, independent of any encoder: a gallery of
labelled embeddings (the training split) and queries (clips never seen in training). A linear
probe is a multinomial logistic regression fitted on standardised gallery embeddings with
L-BFGS; its accuracy on the queries says how linearly decodable a label is (used both for what
should be decodable, style from `z_s`, and for leakage, style from `z_c`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class ProbeResult:
    accuracy: float
    chance: float
    num_queries: int
    num_classes: int


def _chance(labels: np.ndarray) -> float:
    """Accuracy of always answering the most frequent query label."""
    if labels.size == 0:
        return 0.0
    return float(np.bincount(labels).max() / labels.size)


def knn_accuracy(
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    queries: np.ndarray,
    query_labels: np.ndarray,
    k: int = 5,
) -> ProbeResult:
    """Top-1 accuracy of a cosine k-nearest-neighbour vote (ties: the nearest neighbour's label).

    gallery (N, D), queries (M, D); labels int arrays (N,), (M,).
    """
    if len(gallery) == 0 or len(queries) == 0:
        raise ValueError("kNN needs a non-empty gallery and query set")
    g = F.normalize(torch.as_tensor(gallery, dtype=torch.float32), dim=1)  # (N, D)
    q = F.normalize(torch.as_tensor(queries, dtype=torch.float32), dim=1)  # (M, D)
    k = min(k, len(gallery))
    nearest = (q @ g.T).topk(k, dim=1).indices.numpy()  # (M, k)
    votes = np.asarray(gallery_labels)[nearest]  # (M, k)
    predicted = np.array([_vote(row) for row in votes])
    correct = float((predicted == np.asarray(query_labels)).mean())
    num_classes = len(np.unique(gallery_labels))
    return ProbeResult(correct, _chance(np.asarray(query_labels)), len(queries), num_classes)


def _vote(labels: np.ndarray) -> int:
    values, counts = np.unique(labels, return_counts=True)
    best = values[counts == counts.max()]
    return int(labels[0]) if labels[0] in best else int(best[0])


def linear_probe_accuracy(
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    queries: np.ndarray,
    query_labels: np.ndarray,
    weight_decay: float = 1e-3,
    iterations: int = 200,
) -> ProbeResult:
    """Accuracy on the queries of a logistic regression fitted on the gallery."""
    x = torch.as_tensor(gallery, dtype=torch.float64)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    x = (x - mean) / std  # (N, D)
    y = torch.as_tensor(gallery_labels, dtype=torch.long)
    num_classes = int(max(int(y.max()), int(np.max(query_labels, initial=0))) + 1)
    weights = torch.zeros(x.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weights, bias], max_iter=iterations, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weights + bias, y) + weight_decay * weights.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    q = (torch.as_tensor(queries, dtype=torch.float64) - mean) / std
    predicted = (q @ weights + bias).argmax(1).numpy()
    accuracy = float((predicted == np.asarray(query_labels)).mean())
    return ProbeResult(
        accuracy, _chance(np.asarray(query_labels)), len(queries), len(np.unique(gallery_labels))
    )


def cross_validated_probe_accuracy(
    embeddings: np.ndarray, labels: np.ndarray, groups: np.ndarray, folds: int = 2, seed: int = 0
) -> ProbeResult:
    """Linear-probe accuracy fitted and scored within one set, `folds`-fold by group.

    Every group (a clip) lands whole in one fold, so a probe never scores windows of a clip it
    was fitted on. This reads what the embeddings carry *on this data*, whatever a gallery
    fitted elsewhere (or an eraser fitted on the gallery) does.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    unique = np.unique(groups)
    fold_of = dict(
        zip(unique, np.random.default_rng(seed).permutation(len(unique)) % folds, strict=True)
    )
    assignment = np.array([fold_of[g] for g in groups])
    correct, total = 0, 0
    for fold in range(folds):
        held = assignment == fold
        if held.all() or not held.any() or len(np.unique(labels[~held])) < 2:
            continue
        result = linear_probe_accuracy(
            embeddings[~held], labels[~held], embeddings[held], labels[held]
        )
        correct += round(result.accuracy * held.sum())
        total += int(held.sum())
    accuracy = correct / total if total else 0.0
    return ProbeResult(accuracy, _chance(labels), total, len(np.unique(labels)))


def pca_2d(embeddings: np.ndarray) -> np.ndarray:
    """First two principal components `(N, 2)` of embeddings `(N, D)`."""
    centred = embeddings - embeddings.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T
