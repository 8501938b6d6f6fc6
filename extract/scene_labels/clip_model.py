"""CLIP zero-shot scene labelling with open_clip: images -> embeddings -> vocabulary probabilities.

Owns `ClipSceneModel` (an open_clip model, its preprocessing and tokenizer, loaded through
`local-dir:` from the directory `extract.scene_labels.model_loading` resolved, on CUDA when present)
and the zero-shot arithmetic: one text embedding per scene (the normalised mean over prompt
templates, as in CLIP's zero-shot evaluation), unit image embeddings computed in batches under
`torch.no_grad`, and `softmax(logit_scale * image @ scenes.T)`. The text tower is also the
sentence embedder that maps VLM captions onto the vocabulary (`extract.scene_labels.caption`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from PIL import Image

from extract.scene_labels.model_loading import (
    CLIP_SETTING,
    SceneModelError,
    fingerprint_files,
    open_clip_weights,
    resolve_open_clip_dir,
)
from extract.scene_labels.torchvision_compat import ensure_torchvision_importable
from extract.scene_labels.vocab import SceneVocabulary

logger = logging.getLogger(__name__)


def pick_device(device: str | None) -> str:
    """`device` when given, else cuda when torch sees a GPU, else cpu."""
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(eq=False)
class ClipSceneModel:
    """A loaded open_clip model; `model_id` is the setting it came from, `version` its bytes."""

    model: object
    preprocess: object
    tokenizer: object
    device: str
    model_id: str
    version: str

    @property
    def logit_scale(self) -> float:
        return float(self.model.logit_scale.exp().item())

    def encode_images(self, images: list[Image.Image], batch_size: int = 32) -> np.ndarray:
        """(N, D) float32 unit embeddings of RGB images, `batch_size` at a time."""
        import torch

        if not images:
            return np.zeros((0, self.embedding_size), np.float32)
        chunks = []
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                batch = torch.stack(
                    [self.preprocess(image) for image in images[start : start + batch_size]]
                ).to(self.device)  # (B, 3, H, W)
                features = self.model.encode_image(batch, normalize=True)  # (B, D)
                chunks.append(features.float().cpu().numpy())
        return np.concatenate(chunks).astype(np.float32)

    def encode_texts(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        """(N, D) float32 unit embeddings of texts (truncated to the model's context)."""
        import torch

        chunks = []
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                tokens = self.tokenizer(texts[start : start + batch_size]).to(self.device)
                features = self.model.encode_text(tokens, normalize=True)  # (B, D)
                chunks.append(features.float().cpu().numpy())
        return np.concatenate(chunks).astype(np.float32)

    @property
    def embedding_size(self) -> int:
        return int(self.model.text_projection.shape[-1])

    def scene_embeddings(self, vocabulary: SceneVocabulary) -> np.ndarray:
        """(V, D) unit embedding per scene: the normalised mean over its template prompts."""
        num_templates = len(vocabulary.templates)
        prompts = [prompt for scene in vocabulary.scenes for prompt in vocabulary.prompts(scene)]
        per_prompt = self.encode_texts(prompts)  # (V * K, D)
        per_scene = per_prompt.reshape(len(vocabulary.scenes), num_templates, -1).mean(axis=1)
        return normalise_rows(per_scene)


def normalise_rows(array: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    return (array / np.maximum(norms, 1e-12)).astype(np.float32)


def zero_shot_probabilities(
    image_embeddings: np.ndarray, scene_embeddings: np.ndarray, logit_scale: float
) -> np.ndarray:
    """(N, V) softmax over scenes of `logit_scale` * cosine similarity; rows sum to 1."""
    assert image_embeddings.shape[1] == scene_embeddings.shape[1], "embedding sizes differ"
    logits = logit_scale * image_embeddings.astype(np.float64) @ scene_embeddings.T  # (N, V)
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def load_clip_scene_model(spec: str, offline: bool, device: str | None = None) -> ClipSceneModel:
    """Load the open_clip model named by `spec` (local-dir:DIR, DIR or hf-hub:ORG/REPO)."""
    directory = resolve_open_clip_dir(spec, offline)
    ensure_torchvision_importable()
    import open_clip

    target = pick_device(device)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            f"local-dir:{directory}", device=target
        )
        tokenizer = open_clip.get_tokenizer(f"local-dir:{directory}")
    except (RuntimeError, ValueError, KeyError, OSError) as error:
        raise SceneModelError(
            f"CLIP model '{spec}' could not be loaded from {directory}: {error}; "
            f"set {CLIP_SETTING} to a complete open_clip model"
        ) from error
    model.eval()
    version = fingerprint_files([open_clip_weights(directory)])
    logger.info("loaded CLIP model %s (version %s) on %s", spec, version, target)
    return ClipSceneModel(model, preprocess, tokenizer, target, spec, version)
