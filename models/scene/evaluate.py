"""Evaluation of scene conditioning: with a scene vs without, an alpha sweep, encoder vs text.

Owns the scene-shift measurement. For every held-out window r (splits val + test) and every
scene v whose associated styles do not include r's style, the condition without a scene is
z_s(r) and with it `fuse(z_s(r), z_scene, alpha)`. The judge is the *frozen style encoder's*
prototypes (normalised mean z_s of each style's train windows): the nearest prototype and the
softmax over prototype cosines / `temperature`. Reported per alpha: `hit_with` / `hit_without`
(nearest prototype is one of v's styles), `prob_with` / `prob_without` (probability mass on
v's styles), their difference `shift`, and `own_style_kept` (the nearest prototype is still r's
style). The content code z_c is untouched by construction (the scene only enters the style
condition); content preservation of *generated* motion is `models.scene.stylize_eval`'s job.

A `ScenePredictor` gives z_scene for (references, scene): `encoder_predictor` (the trained
`SceneHead`) or `text_predictor` (the scene-as-text ablation: a fixed z_text per scene, additive
fusion), so both are scored by the same code. Results on a `controlled` construction say so in
their `provenance` field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from models.encoders.contrastive_losses import style_prototypes
from models.encoders.run import EncoderRun, load_encoder_run
from models.scene.alpha_plot import plot_alpha_sweep
from models.scene.data import (
    SceneEmbeddings,
    SceneWindows,
    build_controlled_scene_windows,
    build_video_scene_windows,
)
from models.scene.encoder import (
    SCENE_CHECKPOINT_NAME,
    SceneCheckpoint,
    SceneHead,
    fuse_additive,
    load_scene_checkpoint,
)
from models.scene.text import scene_description, style_description, text_scene_styles

DEFAULT_ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


@dataclass
class ScenePredictor:
    """`vectors(refs (M,), scene v) -> z_scene (M, Ds)` and `fuse(z_s, z_scene, alpha (M,))`."""

    name: str
    vectors: Callable[[Tensor, int], Tensor]
    fuse: Callable[[Tensor, Tensor, Tensor], Tensor]


def encoder_predictor(head: SceneHead, data: SceneWindows, embeddings: Tensor) -> ScenePredictor:
    """The scene encoder; `embeddings (V, E)` the scene vocabulary's input vectors."""

    @torch.no_grad()
    def vectors(refs: Tensor, scene: int) -> Tensor:
        embedding = embeddings[scene].float().expand(len(refs), -1)  # (M, E)
        return head.forward_pooled(data.pooled[refs], embedding)  # (M, Ds)

    return ScenePredictor("scene encoder", vectors, head.fuse)


def text_predictor(z_text: Tensor) -> ScenePredictor:
    """The text ablation: one style-space vector per scene `z_text (V, Ds)`, additive fusion."""

    def vectors(refs: Tensor, scene: int) -> Tensor:
        return z_text[scene].float().expand(len(refs), -1)  # (M, Ds)

    return ScenePredictor("scene as text", vectors, fuse_additive)


def train_prototypes(data: SceneWindows) -> Tensor:
    """Normalised per-style prototypes `(S, Ds)` of the frozen style encoder on train windows."""
    train = data.where(("train",))
    prototypes = style_prototypes(
        data.z_style[train], data.style[train], len(data.vocabulary.styles)
    )
    return F.normalize(prototypes, dim=-1)


def _judge(z: Tensor, prototypes: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """(nearest prototype `(M,)`, probabilities `(M, S)`) of unit conditions `z (M, Ds)`."""
    similarity = F.normalize(z, dim=-1) @ prototypes.T  # (M, S)
    return similarity.argmax(dim=1), torch.softmax(similarity / temperature, dim=1)


def scene_shift(
    data: SceneWindows,
    predictor: ScenePredictor,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    splits: tuple[str, ...] = ("val", "test"),
    temperature: float = 0.1,
) -> list[dict]:
    """One row per alpha (see module doc), averaged over every (reference, scene) pair."""
    prototypes = train_prototypes(data)
    held_out = data.where(splits)
    styles_of = data.scene_styles()
    sums: dict[float, dict[str, float]] = {a: {} for a in alphas}
    pairs = 0
    for v, styles in enumerate(styles_of):
        refs = held_out[[int(data.style[i]) not in styles for i in held_out.tolist()]]
        if len(refs) == 0 or not styles:
            continue
        mask = torch.zeros(len(data.vocabulary.styles), dtype=torch.bool)
        mask[list(styles)] = True
        z_scene = predictor.vectors(refs, v)  # (M, Ds)
        without, without_probs = _judge(data.z_style[refs], prototypes, temperature)
        for alpha in alphas:
            fused = predictor.fuse(data.z_style[refs], z_scene, torch.full((len(refs),), alpha))
            nearest, probs = _judge(fused, prototypes, temperature)
            values = {
                "hit_without": mask[without].float().sum(),
                "hit_with": mask[nearest].float().sum(),
                "prob_without": without_probs[:, mask].sum(1).sum(),
                "prob_with": probs[:, mask].sum(1).sum(),
                "own_style_kept": (nearest == data.style[refs]).float().sum(),
            }
            for key, value in values.items():
                sums[alpha][key] = sums[alpha].get(key, 0.0) + float(value)
        pairs += len(refs)
    if pairs == 0:
        raise ValueError("no held-out (reference, scene) pair to evaluate")
    rows = []
    for alpha in alphas:
        row = {"alpha": alpha} | {k: round(v / pairs, 4) for k, v in sums[alpha].items()}
        row["shift"] = round(row["prob_with"] - row["prob_without"], 4)
        rows.append(row | {"pairs": pairs, "provenance": data.provenance})
    return rows


def comparison_table(results: dict[str, list[dict]], alpha: float, provenance: str) -> str:
    """Markdown: one row per method at `alpha` (encoder vs text ablation)."""
    lines = [
        f"Scene conditioning at alpha = {alpha} ({provenance} data; judge: frozen style-encoder "
        "prototypes)",
        "",
        "| method | hit without | hit with | P(scene styles) without | with | shift "
        "| own style kept |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, rows in results.items():
        row = next(r for r in rows if abs(r["alpha"] - alpha) < 1e-9)
        lines.append(
            f"| {name} | {row['hit_without']:.3f} | {row['hit_with']:.3f} | "
            f"{row['prob_without']:.3f} | {row['prob_with']:.3f} | {row['shift']:+.3f} | "
            f"{row['own_style_kept']:.3f} |"
        )
    return "\n".join(lines)


def rebuild_scene_windows(checkpoint: SceneCheckpoint, encoder: EncoderRun) -> SceneWindows:
    """The windows a scene run was trained on, rebuilt from its stored config."""
    config = checkpoint.train_config
    if config.get("source") == "video":
        return build_video_scene_windows(encoder, config["data_root"], config["labeller_id"])
    vectors = checkpoint.embeddings.numpy()
    embeddings = SceneEmbeddings(checkpoint.scenes, vectors, checkpoint.embedding_source)
    return build_controlled_scene_windows(
        encoder, config["data_root"], embeddings, checkpoint.associations
    )


def evaluate_scene_run(
    run_dir: Path,
    out_dir: Path,
    embed_texts: Callable[[list[str]], np.ndarray] | None = None,
    text_model: str = "",
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    report_alpha: float = 1.0,
) -> dict:
    """Scene encoder (and, given `embed_texts`, the text ablation) on held-out windows:
    `report.json`, `alpha_sweep.png` and `table.md` in `out_dir`; returns the report."""
    checkpoint = load_scene_checkpoint(run_dir / SCENE_CHECKPOINT_NAME)
    encoder = load_encoder_run(checkpoint.encoder_run)
    checkpoint = load_scene_checkpoint(run_dir / SCENE_CHECKPOINT_NAME, encoder.checksum)
    data = rebuild_scene_windows(checkpoint, encoder)
    predictor = encoder_predictor(checkpoint.head, data, checkpoint.embeddings)
    results = {"scene encoder": scene_shift(data, predictor, alphas)}
    report: dict = {"run": str(run_dir), "provenance": data.provenance, "text_model": text_model}
    if embed_texts is not None:
        styles = data.vocabulary.styles
        mapping = text_scene_styles(
            embed_texts([scene_description(s) for s in data.scenes]),
            embed_texts([style_description(s) for s in styles]),
            train_prototypes(data), data.scenes, styles,
        )  # fmt: skip
        results["scene as text"] = scene_shift(data, text_predictor(mapping.z_text), alphas)
        report["text_choices"] = dict(zip(data.scenes, mapping.chosen, strict=True))
    report |= {"associations": {k: list(v) for k, v in data.associations.items()}, **results}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    title = f"scene weight sweep ({data.provenance} data: {run_dir.name})"
    plot_alpha_sweep(results, out_dir / "alpha_sweep.png", title)
    table = comparison_table(results, report_alpha, data.provenance)
    (out_dir / "table.md").write_text(table + "\n")
    return report
