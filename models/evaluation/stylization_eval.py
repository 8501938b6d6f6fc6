"""The stylization evaluation harness: the `Stylizer` interface, the item plan, scores, report.

Owns `stylemotion evaluate`'s library side. Any generator (the diffusion model, each baseline
of `models.evaluation.baselines`) implements `Stylizer` and goes through exactly the same code:
every held-out source clip is stylized to every other style (and, per body part, to a part-only
target), each output is read by the frozen evaluator (`models.evaluation.evaluator`) with the
network held out from its (target style, source content) cell, and scored by
`models.evaluation.stylization_scores`. The real held-out clips of the target styles are scored by
the same code for the real data's own values. One JSON-ready dict comes back; an item that fails
(unknown style, short source, a stylizer error, a bad output) is recorded with its reason and
skipped, never stopping the batch.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from models.diffusion.stylize import StyleTarget
from models.evaluation.evaluator import EvaluatorError, StyleEvaluator
from models.evaluation.stylization_scores import (
    Item,
    Scored,
    fd_floor,
    real_diversity,
    score_output,
    summarise,
)
from storage.errors import UserInputError
from storage.records import MotionClip
from storage.skeleton import BODY_PART_NAMES, NUM_JOINTS

logger = logging.getLogger(__name__)


class EvaluationError(ValueError, UserInputError):
    """The evaluation cannot run at all (no sources, no styles, no references); says why."""


class Stylizer(Protocol):
    name: str

    def stylize(
        self,
        sources: Sequence[MotionClip],
        targets: Sequence[StyleTarget],
        strength: float,
        seed: int,
    ) -> list[np.ndarray]: ...  # each (T_i, J, 3) world positions


def plan_items(
    sources: Sequence[MotionClip],
    styles: Sequence[str],
    evaluator: StyleEvaluator,
    real_clips: Sequence[MotionClip],
    part_targets: bool = True,
) -> tuple[list[Item], list[Item], list[dict]]:
    """(global items, per-part items, failures): every usable source x every other usable style."""
    failures: list[dict] = []
    if not real_clips:
        raise EvaluationError("the reference set of real clips is empty")
    referenced = {clip.style for clip in real_clips}
    usable_styles = []
    for style in dict.fromkeys(styles):
        if style not in evaluator.styles:
            reason = f"unknown style label '{style}' (evaluator knows {list(evaluator.styles)})"
        elif style not in referenced:
            reason = f"no real reference clip of style '{style}'"
        else:
            usable_styles.append(style)
            continue
        failures.append({"item": f"style {style}", "reason": reason})
    usable_sources = []
    for source in sources:
        if source.num_frames < evaluator.window_frames:
            reason = (
                f"source has {source.num_frames} frames, shorter than the evaluator's "
                f"{evaluator.window_frames}-frame window"
            )
            failures.append({"item": f"source {source.clip_id}", "reason": reason})
        else:
            usable_sources.append(source)
    if not usable_sources or not usable_styles:
        raise EvaluationError(
            f"nothing to evaluate: {len(usable_sources)} usable sources, usable styles "
            f"{usable_styles}; failures: {failures}"
        )
    items = [Item(s, StyleTarget(t)) for s in usable_sources for t in usable_styles if t != s.style]
    part_items = []
    if part_targets:
        for index, (source, part) in enumerate(
            (s, p) for s in usable_sources for p in BODY_PART_NAMES
        ):
            others = [t for t in usable_styles if t != source.style] or usable_styles
            style = others[index % len(others)]
            part_items.append(Item(source, StyleTarget(source.style or style, {part: style})))
    return items, part_items, failures


def _check_output(output: object, source: MotionClip, window: int) -> np.ndarray:
    array = np.asarray(output)
    if array.ndim != 3 or array.shape[1:] != (NUM_JOINTS, 3) or len(array) < window:
        raise EvaluationError(f"output shape {array.shape}, expected (T>={window}, J, 3)")
    if not np.isfinite(array).all():
        raise EvaluationError("output holds NaN or inf values")
    return array.astype(np.float32)


def run_stylizer(
    stylizer: Stylizer, items: Sequence[Item], strength: float, seed: int, window: int
) -> list[np.ndarray | str]:
    """One batched call; if it fails, one call per item so one bad item fails alone.
    Each entry is the checked output or the reason it failed."""
    sources, targets = [i.source for i in items], [i.target for i in items]
    try:
        outputs = stylizer.stylize(sources, targets, strength, seed)
        if len(outputs) != len(items):
            raise EvaluationError(f"{len(outputs)} outputs for {len(items)} items")
    except Exception as error:  # noqa: BLE001 - isolate the bad item, record the reason
        if len(items) == 1:
            return [f"{type(error).__name__}: {error}"]
        logger.warning("%s: batch failed (%s); retrying item by item", stylizer.name, error)
        return [r for item in items for r in run_stylizer(stylizer, [item], strength, seed, window)]
    results: list[np.ndarray | str] = []
    for item, output in zip(items, outputs, strict=True):
        try:
            results.append(_check_output(output, item.source, window))
        except EvaluationError as error:
            results.append(f"EvaluationError: {error}")
    return results


def real_reference(
    evaluator: StyleEvaluator,
    sources: Sequence[MotionClip],
    real_clips: Sequence[MotionClip],
    styles: Sequence[str],
    failures: list[dict],
) -> tuple[dict[int, np.ndarray], dict]:
    """Window features of the real clips of the target styles and the sources' contents per
    evaluator fold (the FD reference), and the real data's own values: each real clip read as
    an 'output' of the source clip with its content."""
    by_content = {source.content: source for source in sources}
    rows, features = [], defaultdict(list)
    for clip in real_clips:
        if clip.style not in styles or clip.content not in by_content:
            continue
        item = Item(by_content[clip.content], StyleTarget(clip.style))
        try:
            row = score_output(evaluator, item, clip.positions, item.source.positions)
        except (EvaluatorError, ValueError) as error:
            failures.append({"stylizer": "real", "item": clip.clip_id, "reason": str(error)})
            continue
        rows.append(row)
        features[row.fold].append(row.features)
    if not rows:
        raise EvaluationError(
            f"no usable real clip of styles {list(styles)} with contents {sorted(by_content)}"
        )
    reference = {fold: np.concatenate(parts) for fold, parts in features.items()}
    candidates = sorted({source.content for source in sources})
    values = summarise(rows, [], reference, evaluator.vocabulary.contents, candidates)
    values["fd"] = fd_floor(features)
    values["diversity"] = real_diversity(evaluator, [c for c in real_clips if c.style in styles])
    return reference, values


def evaluate_stylizers(
    stylizers: Sequence[Stylizer],
    sources: Sequence[MotionClip],
    styles: Sequence[str],
    evaluator: StyleEvaluator,
    real_clips: Sequence[MotionClip],
    strengths: Sequence[float] = (1.0,),
    seeds: Sequence[int] = (0, 1),
    part_targets: bool = True,
) -> dict:
    """Every stylizer at every strength (once if it has `uses_strength = False`) and the real
    data, on every source x other style; one JSON-ready dict (see docs/EVALUATION.md)."""
    items, part_items, failures = plan_items(sources, styles, evaluator, real_clips, part_targets)
    used_styles = sorted({item.target.style for item in items})
    used_sources = list({item.source.clip_id: item.source for item in items}.values())
    reference, real_values = real_reference(
        evaluator, used_sources, real_clips, used_styles, failures
    )
    contents = evaluator.vocabulary.contents
    candidates = sorted({item.source.content for item in items})
    results = []
    for stylizer in stylizers:
        levels = strengths if getattr(stylizer, "uses_strength", True) else (1.0,)
        for strength in levels:
            rows, parts = [], []
            for seed in seeds:
                for plan, into in ((items, rows), (part_items, parts)):
                    into += _run_items(stylizer, plan, strength, seed, evaluator, failures)
            summary = summarise(rows, parts, reference, contents, candidates)
            results.append({"stylizer": stylizer.name, "strength": float(strength)} | summary)
            logger.info("%s strength %s: %s", stylizer.name, strength, summary)
    return {
        "evaluator": {k: evaluator.info.get(k) for k in ("sha256", "path", "heldout")},
        "sources": sorted({item.source.clip_id for item in items}),
        "styles": used_styles,
        "seeds": list(seeds),
        "real": {"stylizer": "real", "strength": None} | real_values,
        "results": results,
        "failures": failures,
    }


def _run_items(
    stylizer: Stylizer,
    plan: list[Item],
    strength: float,
    seed: int,
    evaluator: StyleEvaluator,
    failures: list[dict],
) -> list[Scored]:
    rows = []
    outputs = run_stylizer(stylizer, plan, strength, seed, evaluator.window_frames) if plan else []
    for item, output in zip(plan, outputs, strict=True):
        try:
            if isinstance(output, str):
                raise EvaluationError(output)
            rows.append(score_output(evaluator, item, output, item.source.positions))
        except (EvaluationError, EvaluatorError, ValueError) as error:
            failures.append(
                {
                    "stylizer": stylizer.name,
                    "strength": strength,
                    "seed": seed,
                    "item": item.label,
                    "reason": str(error),
                }
            )
    return rows


def sweep_points(report: dict) -> list[dict]:
    """(stylizer, strength, SRA, content error = key-joint error in metres) per result row,
    plus the real data's own point."""
    rows = [*report["results"], report["real"]]
    return [
        {
            "stylizer": row["stylizer"],
            "strength": row["strength"],
            "sra": row["sra"],
            "content_error_m": row["key_joint_error_m"],
        }
        for row in rows
        if row["sra"] is not None and row["key_joint_error_m"] is not None
    ]


def strength_sweep(
    stylizers: Sequence[Stylizer],
    sources: Sequence[MotionClip],
    styles: Sequence[str],
    evaluator: StyleEvaluator,
    real_clips: Sequence[MotionClip],
    strengths: Sequence[float] = (0.5, 1.0, 2.0),
    **options,
) -> list[dict]:
    """`evaluate_stylizers` over `strengths` reduced to SRA-vs-content-error points."""
    report = evaluate_stylizers(
        stylizers, sources, styles, evaluator, real_clips, strengths, part_targets=False, **options
    )
    return sweep_points(report)
