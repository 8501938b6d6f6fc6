"""The text model of the scene-as-text ablation: a transformers encoder chosen by setting.

Owns `TextEmbedder` and `load_text_embedder`. The model is `--text-model` or
`$STYLEMOTION_SCENE_TEXT_MODEL`: a local directory saved with `save_pretrained` (optionally
`local-dir:DIR`) or a hub id, loaded with `AutoTokenizer` + `AutoModel`; offline mode
(`HF_HUB_OFFLINE=1`, `TRANSFORMERS_OFFLINE=1` or the flag) only reads the local cache. A text
is embedded as the attention-masked mean of the last hidden states, L2-normalised (the usual
sentence-embedding pooling). Every failure is a `SceneModelError` naming the setting. The
version is a fingerprint of the weight files, so results can name the exact model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from extract.scene_labels.model_loading import (
    LOCAL_DIR_PREFIX,
    SceneModelError,
    check_weights_dir,
    fingerprint_files,
    model_setting,
    offline_mode,
)
from extract.scene_labels.torchvision_compat import ensure_torchvision_importable

logger = logging.getLogger(__name__)

TEXT_MODEL_ENV = "STYLEMOTION_SCENE_TEXT_MODEL"
TEXT_SETTING = f"--text-model / {TEXT_MODEL_ENV}"
WEIGHT_PATTERNS = ("*.safetensors", "*.bin")


@dataclass(eq=False)
class TextEmbedder:
    model: object
    tokenizer: object
    device: str
    model_id: str
    version: str

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """(N, E) float32 unit embeddings: masked mean of the last hidden states."""
        import torch

        chunks = []
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(
                    texts[start : start + batch_size], padding=True, truncation=True,
                    max_length=64, return_tensors="pt",
                ).to(self.device)  # fmt: skip
                hidden = self.model(**batch).last_hidden_state  # (B, L, E)
                mask = batch["attention_mask"][..., None].to(hidden.dtype)  # (B, L, 1)
                mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)  # (B, E)
                chunks.append(torch.nn.functional.normalize(mean, dim=-1).float().cpu().numpy())
        return np.concatenate(chunks).astype(np.float32)


def load_text_embedder(
    spec: str | None, offline: bool = False, device: str | None = None
) -> TextEmbedder:
    """Load the text model named by `spec` (else the environment setting); see module doc."""
    spec = model_setting(spec, TEXT_MODEL_ENV)
    if spec is None:
        raise SceneModelError(f"no text model set: set {TEXT_SETTING} to a directory or hub id")
    offline = offline_mode(offline)
    directory = Path(spec.removeprefix(LOCAL_DIR_PREFIX)).expanduser()
    local = directory.is_dir()
    if spec.startswith(LOCAL_DIR_PREFIX) and not local:
        raise SceneModelError(f"text model '{spec}': {directory} is not a directory")
    source = str(directory) if local else spec
    if local:  # damaged or code-carrying weights: one refusal naming the file
        check_weights_dir(directory, f"text model '{spec}'", TEXT_SETTING)
    ensure_torchvision_importable()  # transformers' model registry imports torchvision
    import torch
    from transformers import AutoModel, AutoTokenizer

    target = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline)
        model = AutoModel.from_pretrained(source, local_files_only=offline).to(target).eval()
    except (OSError, ValueError, KeyError) as error:
        where = "in the local cache (offline mode)" if offline else "locally or on the hub"
        raise SceneModelError(
            f"text model '{spec}' could not be loaded {where}: {type(error).__name__}: "
            f"{str(error)[:200]}; set {TEXT_SETTING} to a saved transformers model"
        ) from error
    weights = [p for pattern in WEIGHT_PATTERNS for p in directory.glob(pattern)] if local else []
    version = (
        fingerprint_files(weights) if weights else str(getattr(model.config, "_commit_hash", "hub"))
    )
    logger.info("loaded text model %s (version %s) on %s", spec, version, target)
    return TextEmbedder(model, tokenizer, target, spec, version)
