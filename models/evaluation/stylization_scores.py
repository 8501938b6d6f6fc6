"""Scores of the stylization harness: one output read by the evaluator and the metrics, and
the set-level summary of many outputs (SRA, content accuracy, errors, skate, FD, diversity).

Owns how `models.evaluation.stylization_eval` turns outputs into numbers: `score_output` reads one
output with the evaluator network held out from its (target style, source content) cell and measures
it with `models.evaluation.motion_metrics`; `summarise` pools many `Scored` items into one report
row; `fd_floor` and `real_diversity` are the real data's own FD and diversity.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.diffusion.stylize import StyleTarget
from models.evaluation.evaluator import StyleEvaluator
from models.evaluation.motion_metrics import (
    ANKLES,
    WRISTS,
    FootSkate,
    bone_length_std,
    diversity,
    foot_skate,
    frechet_distance,
    key_joint_error,
    part_leakage,
    root_trajectory_error,
    speed_ratio,
    timing_correlation,
)
from storage.records import MotionClip


@dataclass(frozen=True)
class Item:
    source: MotionClip
    target: StyleTarget

    @property
    def label(self) -> str:
        parts = ",".join(f"{p}={s}" for p, s in self.target.part_styles.items())
        return f"{self.source.clip_id}->{self.target.style}" + (f"[{parts}]" if parts else "")


@dataclass
class Scored:
    """Per-item numbers plus the window features (N, D) the set-level metrics need."""

    values: dict
    features: np.ndarray
    fold: int
    group: str
    content_probs: np.ndarray  # (C,) in the evaluator's content order


def score_output(
    evaluator: StyleEvaluator, item: Item, output: np.ndarray, source: np.ndarray | None
) -> Scored:
    """Evaluator reading + motion metrics of one output (`source` None: no content reference)."""
    score = evaluator.score(output, item.target.style, item.source.content)
    skate = foot_skate(output, item.source.fps)
    values = {
        "style_correct": evaluator.styles[int(score.style_probs.argmax())] == item.target.style,
        "content_correct": evaluator.vocabulary.contents[int(score.content_probs.argmax())]
        == item.source.content,
        "content": item.source.content,
        "skate": skate,
        "bone_length_std_m": bone_length_std(output),
    }
    if source is not None:
        values["trajectory_error_m"] = root_trajectory_error(output, source)
        values["key_joint_error_m"] = key_joint_error(output, source)
        fps = item.source.fps
        values["wrist_speed_ratio"] = speed_ratio(output, source, fps, WRISTS)
        values["ankle_speed_ratio"] = speed_ratio(output, source, fps, ANKLES)
        values["timing_correlation"] = timing_correlation(output, source, fps)
        if item.target.part_styles:
            values["leakage"] = part_leakage(output, source, list(item.target.part_styles))
    return Scored(values, score.features, score.fold, item.label, score.content_probs)


def _mean(rows: list[Scored], key: str) -> float | None:
    values = [row.values[key] for row in rows if row.values.get(key) is not None]
    return round(float(np.mean(values)), 4) if values else None


def _fd(rows: list[Scored], reference: dict[int, np.ndarray]) -> float | None:
    """Window-feature FD per evaluator fold (each fold its own feature space), window-weighted."""
    values, weights = [], []
    for fold, real in reference.items():
        mine = [row.features for row in rows if row.fold == fold]
        if mine and len(real) >= 2 and sum(len(m) for m in mine) >= 2:
            values.append(frechet_distance(np.concatenate(mine), real))
            weights.append(sum(len(m) for m in mine))
    return round(float(np.average(values, weights=weights)), 4) if values else None


def _restricted_content_accuracy(
    rows: list[Scored], contents: Sequence[str], candidates: Sequence[str]
) -> float | None:
    """Content accuracy with the argmax taken only over `candidates` (the evaluated sources'
    contents): is a stylized guide still read as guide rather than byebye or walk?"""
    indices = [contents.index(c) for c in candidates if c in contents]
    if len(indices) < 2 or not rows:
        return None
    hits = [
        contents[indices[int(row.content_probs[indices].argmax())]] == row.values["content"]
        for row in rows
    ]
    return round(float(np.mean(hits)), 4)


def content_readings(rows: list[Scored], contents: Sequence[str]) -> dict | None:
    """What the evaluator's content head calls the outputs of each source content:
    `{source content: {argmax content: count}}` (where the content accuracy is lost: a stylized
    byebye read as "bye" is a different failure from one read as "walk")."""
    if not contents or not rows:
        return None
    readings: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        readings[str(row.values["content"])][contents[int(row.content_probs.argmax())]] += 1
    return {source: dict(counts.most_common()) for source, counts in sorted(readings.items())}


def summarise(
    rows: list[Scored],
    parts: list[Scored],
    reference: dict[int, np.ndarray],
    contents: Sequence[str] = (),
    candidates: Sequence[str] = (),
) -> dict:
    skate = sum((row.values["skate"] for row in rows + parts), FootSkate(0, 0))
    groups: dict[str, list[np.ndarray]] = defaultdict(list)
    for row in rows:
        groups[row.group].append(row.features.mean(axis=0))
    diverse = diversity(np.stack(group) for group in groups.values())
    return {
        "items": len(rows),
        "sra": _mean(rows, "style_correct"),
        "content_accuracy": _mean(rows, "content_correct"),
        "content_accuracy_among_sources": _restricted_content_accuracy(rows, contents, candidates),
        "content_readings": content_readings(rows, contents),
        "trajectory_error_m": _mean(rows, "trajectory_error_m"),
        "key_joint_error_m": _mean(rows, "key_joint_error_m"),
        "wrist_speed_ratio": _mean(rows, "wrist_speed_ratio"),
        "ankle_speed_ratio": _mean(rows, "ankle_speed_ratio"),
        "timing_correlation": _mean(rows, "timing_correlation"),
        "foot_skate_ratio": round(skate.ratio, 4),
        "foot_contact_pairs": skate.contact_pairs,
        "bone_length_std_m": _mean(rows + parts, "bone_length_std_m"),
        "fd": _fd(rows, reference),
        "diversity": None if diverse is None else round(diverse, 4),
        "part_items": len(parts),
        "part_leakage": _mean(parts, "leakage"),
    }


def fd_floor(features: dict[int, list[np.ndarray]]) -> float | None:
    """Real-vs-real FD per fold: the windows of even- against odd-numbered reference clips
    (disjoint clips of the same styles), window-weighted like `_fd`."""
    values, weights = [], []
    for clips in features.values():
        even, odd = clips[0::2], clips[1::2]
        if even and odd and min(sum(map(len, even)), sum(map(len, odd))) >= 2:
            values.append(frechet_distance(np.concatenate(even), np.concatenate(odd)))
            weights.append(sum(map(len, clips)))
    return round(float(np.average(values, weights=weights)), 4) if values else None


def real_diversity(evaluator: StyleEvaluator, clips: Sequence[MotionClip]) -> float | None:
    """Mean pairwise distance between the real clips of one style (all read by network 0, one
    feature space), averaged over styles: a loose reference for the outputs' diversity."""
    groups: dict[str, list[np.ndarray]] = defaultdict(list)
    for clip in clips:
        if clip.num_frames >= evaluator.window_frames:
            features = evaluator.score(clip.positions, clip.style, clip.content, fold=0).features
            groups[clip.style].append(features.mean(axis=0))  # (D,)
    value = diversity(np.stack(group) for group in groups.values())
    return None if value is None else round(value, 4)
