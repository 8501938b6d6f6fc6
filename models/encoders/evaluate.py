"""Evaluating a trained encoder run on clips it never saw: separation, leakage, a picture.

Owns `stylemotion eval-encoders`. The gallery is the run's own training split (from its data
root); queries are clips of `--data` in `--split` (default `test`: the held-out contents and
takes of `models.encoders.windows.split_of`). Reported, each with its chance level: style kNN top-1
and linear-probe accuracy from `z_s` (per window and per clip by majority), the same per body part
from `z_s^p`, content linear-probe accuracy from `z_c` (on the `val` split, whose contents the
gallery has), and the leakage probes style-from-`z_c` and content-from-`z_s`, which should sit
near chance. `--label-map` renames a foreign dataset's styles onto the trained ones (unmapped
styles are counted and left out). A PCA plot of the query style embeddings coloured by style
is written as PNG next to the JSON.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from models.common.training import choose_device
from models.encoders.probes import (
    ProbeResult,
    cross_validated_probe_accuracy,
    knn_accuracy,
    linear_probe_accuracy,
)
from models.encoders.run import EncoderRun, load_encoder_run
from models.encoders.windows import (
    WindowDataset,
    WindowIndex,
    collate_windows,
    load_clips,
)
from storage.errors import UserInputError
from storage.records import MotionClip

logger = logging.getLogger(__name__)

PART_NAMES = ("torso", "left_arm", "right_arm", "left_leg", "right_leg")


class EvaluationError(ValueError, UserInputError):
    """The data cannot be evaluated with the run (loading it: `EncoderRunError`); says why."""


@dataclass(frozen=True)
class EvalConfig:
    run: str
    data_root: str | None = None  # default: the run's own data root
    split: str = "test"
    label_map: dict[str, str] = field(default_factory=dict)
    k: int = 5
    device: str = "auto"
    # false: evaluate the run as if its style eraser were never fitted (the eraser is fitted
    # after training, so this is the no-eraser ablation of the very same run)
    use_style_eraser: bool = True


@dataclass
class Embeddings:
    style: np.ndarray  # (N, Ds)
    parts: np.ndarray  # (N, 5, Ds)
    content: np.ndarray  # (N, Dc)
    style_labels: np.ndarray  # (N,)
    content_labels: np.ndarray  # (N,)
    clip_labels: np.ndarray  # (N,) clip index


def _relabel(
    clips: list[MotionClip], label_map: dict[str, str], known: set[str]
) -> tuple[list[MotionClip], Counter]:
    """Clips whose (mapped) style the run knows; a count of the styles left out."""
    kept, dropped = [], Counter()
    for clip in clips:
        style = label_map.get(clip.style or "", clip.style)
        if style in known:
            kept.append(clip if style == clip.style else _with_style(clip, style))
        else:
            dropped[clip.style or "(none)"] += 1
    return kept, dropped


def _with_style(clip: MotionClip, style: str) -> MotionClip:
    return replace(clip, style=style)


def embed_clips(run: EncoderRun, clips: list[MotionClip], device: torch.device) -> Embeddings:
    """Embeddings of every window (no augmentation) of `clips`."""
    index = WindowIndex.from_clips(clips, run.vocabulary, run.features)
    if len(index) == 0:
        raise EvaluationError("no clip is as long as one window")
    dataset = WindowDataset(clips, index, run.features, stats=run.stats)
    parts: dict[str, list[np.ndarray]] = {"style": [], "parts": [], "content": []}
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=256, collate_fn=collate_windows):
            output = run.model(*_inputs(batch, device))
            parts["style"].append(output.z_style.float().cpu().numpy())
            parts["parts"].append(output.z_style_parts.float().cpu().numpy())
            parts["content"].append(output.z_content.float().cpu().numpy())
    return Embeddings(
        style=np.concatenate(parts["style"]),
        parts=np.concatenate(parts["parts"]),
        content=np.concatenate(parts["content"]),
        style_labels=index.styles.copy(),
        content_labels=index.contents.copy(),
        clip_labels=index.clip_indices.copy(),
    )


def _inputs(batch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    batch = batch.to(device)
    return batch.tokens, batch.descriptors


def _per_clip_accuracy(gallery: Embeddings, queries: Embeddings, k: int) -> float:
    """Majority vote of the window-level kNN predictions of each query clip."""
    g = torch.nn.functional.normalize(torch.as_tensor(gallery.style), dim=1)
    q = torch.nn.functional.normalize(torch.as_tensor(queries.style), dim=1)
    nearest = (q @ g.T).topk(min(k, len(g)), dim=1).indices.numpy()
    window_votes = [np.bincount(gallery.style_labels[row]).argmax() for row in nearest]
    correct = []
    for clip in np.unique(queries.clip_labels):
        mine = queries.clip_labels == clip
        predicted = np.bincount(np.asarray(window_votes)[mine]).argmax()
        correct.append(predicted == queries.style_labels[mine][0])
    return float(np.mean(correct))


def _probe_dict(result: ProbeResult) -> dict[str, float]:
    """Accuracy with two references: the majority-class rate and 1 / number of classes."""
    return {
        "accuracy": round(result.accuracy, 4),
        "chance": round(result.chance, 4),
        "uniform_chance": round(1.0 / max(result.num_classes, 1), 4),
        "n": result.num_queries,
    }


def style_metrics(gallery: Embeddings, queries: Embeddings, k: int) -> dict[str, object]:
    metrics: dict[str, object] = {
        "style_knn_top1": _probe_dict(
            knn_accuracy(
                gallery.style, gallery.style_labels, queries.style, queries.style_labels, k
            )
        ),
        "style_knn_top1_per_clip": round(_per_clip_accuracy(gallery, queries, k), 4),
        "style_linear_probe": _probe_dict(
            linear_probe_accuracy(
                gallery.style, gallery.style_labels, queries.style, queries.style_labels
            )
        ),
        "style_from_content_leakage": _probe_dict(
            linear_probe_accuracy(
                gallery.content, gallery.style_labels, queries.content, queries.style_labels
            )
        ),
    }
    # fitted on half of the query clips, scored on the other half: what z_c carries of the
    # style on the held-out data itself, not only what a gallery-fitted probe transfers
    metrics["style_from_content_leakage_within_queries"] = _probe_dict(
        cross_validated_probe_accuracy(queries.content, queries.style_labels, queries.clip_labels)
    )
    metrics["part_style_knn_top1"] = {
        name: _probe_dict(
            knn_accuracy(
                gallery.parts[:, p],
                gallery.style_labels,
                queries.parts[:, p],
                queries.style_labels,
                k,
            )
        )["accuracy"]
        for p, name in enumerate(PART_NAMES)
    }
    return metrics


def style_knn_by_content(
    gallery: Embeddings, queries: Embeddings, clips: list[MotionClip], k: int
) -> dict[str, float]:
    """Window style kNN top-1 of the queries grouped by their clips' content label."""
    contents = [clips[i].content or "(none)" for i in queries.clip_labels]
    return style_knn_by_group(gallery, queries, np.array(contents), k)


def style_knn_by_dataset(
    gallery: Embeddings, queries: Embeddings, clips: list[MotionClip], k: int
) -> dict[str, float]:
    """Window style kNN top-1 per dataset of the queries, and per dataset/content."""
    datasets = np.array([clips[i].dataset for i in queries.clip_labels])
    cells = np.array([f"{clips[i].dataset}/{clips[i].content}" for i in queries.clip_labels])
    by_dataset = style_knn_by_group(gallery, queries, datasets, k)
    return by_dataset | style_knn_by_group(gallery, queries, cells, k)


def leakage_by_dataset(
    gallery: Embeddings, queries: Embeddings, clips: list[MotionClip]
) -> dict[str, dict[str, dict[str, float]]]:
    """Style-from-`z_c` leakage per dataset of the queries: the gallery-fitted probe and the
    probe fitted within that dataset's queries (2-fold by clip), each with its chance."""
    datasets = np.array([clips[i].dataset for i in queries.clip_labels])
    result = {}
    for name in sorted(set(datasets.tolist())):
        mine = datasets == name
        gallery_probe = linear_probe_accuracy(
            gallery.content, gallery.style_labels, queries.content[mine], queries.style_labels[mine]
        )
        within = cross_validated_probe_accuracy(
            queries.content[mine], queries.style_labels[mine], queries.clip_labels[mine]
        )
        result[name] = {"gallery_probe": _probe_dict(gallery_probe), "within": _probe_dict(within)}
    return result


def style_knn_by_group(
    gallery: Embeddings, queries: Embeddings, groups: np.ndarray, k: int
) -> dict[str, float]:
    return {
        name: round(
            knn_accuracy(
                gallery.style,
                gallery.style_labels,
                queries.style[groups == name],
                queries.style_labels[groups == name],
                k,
            ).accuracy,
            4,
        )
        for name in sorted(set(groups.tolist()))
    }


def content_metrics(gallery: Embeddings, validation: Embeddings) -> dict[str, object]:
    known = gallery.content_labels >= 0
    query = validation.content_labels >= 0
    if not query.any():
        return {"content_linear_probe": None, "content_from_style_leakage": None}
    return {
        "content_linear_probe": _probe_dict(
            linear_probe_accuracy(
                gallery.content[known],
                gallery.content_labels[known],
                validation.content[query],
                validation.content_labels[query],
            )
        ),
        "content_from_style_leakage": _probe_dict(
            linear_probe_accuracy(
                gallery.style[known],
                gallery.content_labels[known],
                validation.style[query],
                validation.content_labels[query],
            )
        ),
    }


def evaluate_encoders(config: EvalConfig, plot_path: Path | None = None) -> dict[str, object]:
    """Every metric of the module docstring as a JSON-ready dict."""
    device = choose_device(config.device)
    run = load_encoder_run(config.run, device)
    if not config.use_style_eraser:
        run.model.heads["content"].style_eraser.reset()
    data_root = config.data_root or run.data_root
    known = set(run.vocabulary.styles)
    gallery_clips = load_clips(run.data_root, splits=("train",))
    if not gallery_clips:
        raise EvaluationError(
            f"{run.data_root}: the run's training data gives no gallery clips (moved or "
            "deleted? evaluate with the data the run was trained on)"
        )
    query_clips, dropped = _relabel(
        load_clips(data_root, splits=(config.split,)), config.label_map, known
    )
    if not query_clips:
        raise EvaluationError(
            f"{data_root}: no {config.split} clips with a style the run knows ({sorted(known)})"
        )
    gallery = embed_clips(run, gallery_clips, device)
    queries = embed_clips(run, query_clips, device)
    report: dict[str, object] = {
        "run": str(config.run),
        "step": run.step,
        "data_root": data_root,
        "split": config.split,
        "style_eraser": run.model.heads["content"].style_eraser.fitted,
        "query_clips": len(query_clips),
        "query_windows": len(queries.style_labels),
        "styles_left_out": dict(dropped),
        **style_metrics(gallery, queries, config.k),
        "style_knn_top1_by_content": style_knn_by_content(gallery, queries, query_clips, config.k),
        "style_knn_top1_by_dataset": style_knn_by_dataset(gallery, queries, query_clips, config.k),
        "style_from_content_leakage_by_dataset": leakage_by_dataset(gallery, queries, query_clips),
    }
    validation_clips = load_clips(data_root, splits=("val",)) if data_root == run.data_root else []
    if validation_clips:
        report.update(content_metrics(gallery, embed_clips(run, validation_clips, device)))
    if plot_path is not None:
        from models.encoders.embedding_plot import plot_style_embeddings

        plot_style_embeddings(queries.style, queries.style_labels, run.vocabulary.styles, plot_path)
        report["plot"] = str(plot_path)
    return report


def write_report(report: dict[str, object], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
