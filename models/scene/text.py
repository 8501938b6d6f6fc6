"""The scene-as-text ablation: no scene encoder, a text model maps a scene to a style vector.

Owns the arithmetic of the ablation (the text model itself is loaded in
`extract.scene_labels.text_model`, by setting, and its embeddings are passed in). Scene descriptions
and style descriptions are embedded by the same text model; each scene's similarities to the
style descriptions pick a style: `mode="nearest"` takes the nearest style's prototype (the
frozen style encoder's normalised mean z_s of that style), `mode="soft"` a softmax-weighted
mix of prototypes. The result `z_text (V, Ds)` stands where z_scene would be and is fused the
same way (`normalize(z_s + alpha * z_text)`), so `models.scene.evaluate` scores both methods with
one code path. Prompting an instruction model for a style word is the other variant the issue
names; it is not implemented (no instruction model is available offline here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from models.diffusion.stylize import StyleCondition
from models.scene.encoder import fuse_additive

MODES = ("nearest", "soft")
STYLE_DESCRIPTIONS: dict[str, str] = {
    "active": "an energetic, active person moving briskly",
    "angry": "an angry, aggressive person stomping",
    "childish": "a playful child skipping around",
    "chimpira": "a swaggering street thug with a tough walk",
    "feminine": "a graceful, feminine person moving elegantly",
    "giant": "a huge, heavy giant moving slowly and heavily",
    "happy": "a happy, cheerful person bouncing along",
    "masculinity": "a strong, masculine person with a broad stance",
    "musical": "a performer moving like in a musical show",
    "normal": "an ordinary person moving normally",
    "not-confident": "a shy, insecure person moving hesitantly",
    "old": "an elderly person moving slowly and carefully",
    "proud": "a proud person with chest out and chin up",
    "sad": "a sad, downcast person with slumped shoulders",
    "tired": "an exhausted, tired person dragging along",
}


class SceneTextError(ValueError):
    """The text ablation cannot map a scene; the message says which input."""


def style_description(style: str) -> str:
    return STYLE_DESCRIPTIONS.get(style, f"a person moving in a {style} way")


def scene_description(scene: str) -> str:
    return f"a person moving in a {scene}"


@dataclass(frozen=True)
class TextSceneStyles:
    """Per scene `(V,)`: text similarities to styles `(V, S)`, chosen style, `z_text (V, Ds)`."""

    scenes: tuple[str, ...]
    styles: tuple[str, ...]
    similarity: Tensor
    chosen: tuple[str, ...]
    z_text: Tensor

    def vector(self, scene: str) -> Tensor:
        if scene not in self.scenes:
            raise SceneTextError(f"unknown scene {scene!r}; known: {list(self.scenes)}")
        return self.z_text[self.scenes.index(scene)]


def text_scene_styles(
    scene_text: np.ndarray,
    style_text: np.ndarray,
    prototypes: Tensor,
    scenes: tuple[str, ...],
    styles: tuple[str, ...],
    mode: str = "nearest",
    temperature: float = 0.05,
) -> TextSceneStyles:
    """`scene_text (V, E)`, `style_text (S, E)` unit text embeddings, `prototypes (S, Ds)`."""
    if mode not in MODES:
        raise SceneTextError(f"mode must be one of {MODES}, got {mode!r}")
    if scene_text.shape[0] != len(scenes) or style_text.shape[0] != len(styles):
        raise SceneTextError("text embeddings and names differ in length")
    if prototypes.shape[0] != len(styles):
        raise SceneTextError(f"{prototypes.shape[0]} prototypes for {len(styles)} styles")
    scene_t = F.normalize(torch.as_tensor(scene_text).float(), dim=-1)
    style_t = F.normalize(torch.as_tensor(style_text).float(), dim=-1)
    similarity = scene_t @ style_t.T  # (V, S)
    nearest = similarity.argmax(dim=1)  # (V,)
    if mode == "nearest":
        z_text = prototypes[nearest]  # (V, Ds)
    else:
        z_text = torch.softmax(similarity / temperature, dim=1) @ prototypes  # (V, Ds)
    chosen = tuple(styles[i] for i in nearest.tolist())
    return TextSceneStyles(scenes, styles, similarity, chosen, F.normalize(z_text, dim=-1))


def text_scene_condition(
    mapping: TextSceneStyles, scene: str, base: StyleCondition, alpha: float
) -> StyleCondition:
    """`base` with the text ablation's scene vector in the scene slot: `vectors()` then gives
    the unit `normalize(z_s + alpha * z_text)` (as `models.scene.condition.scene_vector`)."""
    z_text = mapping.vector(scene).float()
    fused = fuse_additive(base.style.float()[None], z_text[None], torch.tensor([alpha]))[0]
    scene_slot = (fused - base.style) / alpha if alpha > 0 else torch.zeros_like(base.style)
    chosen = mapping.chosen[mapping.scenes.index(scene)]
    description = f"{base.description};scene-text:{scene}->{chosen}"
    return StyleCondition(base.style, base.parts, description, scene_slot, alpha)
