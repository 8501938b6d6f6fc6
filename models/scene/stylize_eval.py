"""End-to-end scene conditioning: stylize with vs without a scene, judged independently.

Owns `scene_stylization_eval`: each source clip is stylized twice by a `DiffusionStylizer`
with the same base style label, seed and strength, once plain and once with the scene vector
of `models.scene.condition` in the condition's scene slot (the diffusion stage is unchanged).
The independent evaluator (`models.evaluation.evaluator`, never used in training) reads both outputs
with the same network (the one held out from the source's (base style, content) cell):
the probability mass on the scene's associated styles (the shift) and the probability of
the source's content (content preservation); the frozen encoder's content code cosine to the
source is reported too. Provenance of the scene run ("controlled") is carried into the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from models.diffusion.stylize import DiffusionStylizer
from models.evaluation.evaluator import StyleEvaluator
from models.scene.condition import SceneRun, scene_vector, source_windows
from storage.records import MotionClip


def _content_code(stylizer: DiffusionStylizer, positions: np.ndarray) -> torch.Tensor:
    """Unit mean frozen-encoder content `(Dc,)` over the windows of positions `(T, J, 3)`."""
    windows = torch.as_tensor(source_windows(stylizer.codes.features, positions))
    with torch.no_grad():
        return F.normalize(stylizer.codes(windows).z_content.float().mean(0), dim=0)


def scene_stylization_eval(
    stylizer: DiffusionStylizer,
    scene_run: SceneRun,
    evaluator: StyleEvaluator,
    sources: Sequence[MotionClip],
    base_style: str,
    scenes: Sequence[str],
    alpha: float,
    strength: float = 1.5,
    seed: int = 0,
) -> dict:
    """Mean evaluator readings without / with the scene over every (source, scene) pair."""
    styles = evaluator.styles
    rows = []
    base = stylizer.condition_of_label(base_style)
    for source in sources:
        for scene in scenes:
            vector = scene_vector(scene_run, source.positions, scene, alpha, base.style)
            with_scene = replace(base, scene=vector, scene_weight=alpha)
            outputs = stylizer.stylize_positions(
                [source.positions] * 2, [base, with_scene], strength, seed
            )
            mask = np.array([s in scene_run.checkpoint.associations[scene] for s in styles])
            content = evaluator.vocabulary.content_index(source.content)
            reference = _content_code(stylizer, source.positions)
            row = {"source": source.clip_id, "scene": scene}
            for name, output in zip(("without", "with"), outputs, strict=True):
                score = evaluator.score(output, base_style, source.content)
                row[f"scene_style_prob_{name}"] = float(score.style_probs[mask].sum())
                known = content >= 0  # a content the evaluator never saw has no probability
                row[f"content_prob_{name}"] = float(score.content_probs[content]) if known else None
                cosine = float(reference @ _content_code(stylizer, output))
                row[f"content_cosine_{name}"] = cosine
            rows.append(row)
    keys = [k for k in rows[0] if k not in ("source", "scene")]
    summary = {k: round(float(np.mean([r[k] for r in rows if r[k] is not None])), 4) for k in keys}
    return summary | {
        "pairs": len(rows), "alpha": alpha, "strength": strength, "base_style": base_style,
        "provenance": scene_run.checkpoint.provenance, "rows": rows,
    }  # fmt: skip
