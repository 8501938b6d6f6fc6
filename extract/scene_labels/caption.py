"""VLM scene captions through transformers, and mapping a caption onto the scene vocabulary.

Owns `CaptionModel`: any image-text-to-text model transformers can build with
`AutoProcessor` + `AutoModelForImageTextToText` (BLIP, SmolVLM/Idefics3, LLaVA, ...), from a
hub id or a local directory (the `STYLEMOTION_CAPTION_MODEL` setting), offline mode honoured.
A processor with a chat template gets the prompt as a user turn holding the image; one
without (BLIP-style captioners) gets it as a caption prefix. Generation is greedy, so a caption
is a deterministic function of image, model and prompt; one image per call, because VLM
processors disagree on how batches of images and prompts nest. `map_captions` turns captions
into vocabulary entries by cosine similarity of CLIP text embeddings
(`extract.scene_labels.clip_model`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from extract.scene_labels.clip_model import ClipSceneModel, pick_device
from extract.scene_labels.model_loading import (
    CAPTION_SETTING,
    SceneModelError,
    check_weights_dir,
    fingerprint_files,
)
from extract.scene_labels.torchvision_compat import ensure_torchvision_importable

logger = logging.getLogger(__name__)

CHAT_PROMPT = "Describe the place where this picture was taken in one short sentence."
PREFIX_PROMPT = "a photograph of"


@dataclass(eq=False)
class CaptionModel:
    """A loaded image-text-to-text model with its processor and the prompt it is given."""

    model: object
    processor: object
    device: str
    model_id: str
    version: str
    prompt: str
    max_new_tokens: int

    @property
    def uses_chat_template(self) -> bool:
        return bool(getattr(self.processor, "chat_template", None))

    def _prompt_text(self) -> str:
        if not self.uses_chat_template:
            return self.prompt
        messages = [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": self.prompt}]}
        ]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True)

    def caption(self, image: Image.Image) -> str:
        """A short description of `image` (greedy decoding, prompt removed)."""
        import torch

        text = self._prompt_text()
        inputs = self.processor(images=image, text=text, return_tensors="pt").to(self.device)
        with torch.no_grad():
            output = self.model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, do_sample=False
            )  # (1, L)
        prompt_ids = inputs["input_ids"][0]
        generated = _strip_token_prefix(output[0], prompt_ids)
        caption = self.processor.decode(generated, skip_special_tokens=True).strip()
        prompt_words = self.processor.decode(prompt_ids, skip_special_tokens=True).strip()
        if prompt_words and caption.startswith(prompt_words):  # prefix captioners echo it
            caption = caption[len(prompt_words) :].strip()
        return " ".join(caption.split())


def _strip_token_prefix(output, prompt_ids):  # (L,), (P,) -> (L - shared prefix,)
    shared = 0
    limit = min(len(output), len(prompt_ids))
    while shared < limit and int(output[shared]) == int(prompt_ids[shared]):
        shared += 1
    return output[shared:]


def map_captions(
    captions: list[str], clip_model: ClipSceneModel, scene_embeddings: np.ndarray
) -> list[tuple[int, float] | None]:
    """(index of the nearest scene, cosine similarity) per caption; None for an empty one."""
    present = [index for index, caption in enumerate(captions) if caption]
    results: list[tuple[int, float] | None] = [None] * len(captions)
    if not present:
        return results
    embeddings = clip_model.encode_texts([captions[index] for index in present])  # (N, D)
    similarity = embeddings @ scene_embeddings.T  # (N, V)
    for row, index in enumerate(present):
        best = int(np.argmax(similarity[row]))
        results[index] = (best, float(similarity[row, best]))
    return results


def _model_version(model: object, spec: str) -> str:
    commit = getattr(model.config, "_commit_hash", None)
    if commit:
        return str(commit)[:12]
    directory = Path(spec).expanduser()
    weights = sorted(directory.glob("*.safetensors")) + sorted(directory.glob("*.bin"))
    return fingerprint_files(weights) if weights else "unknown"


def load_caption_model(
    spec: str,
    offline: bool,
    device: str | None = None,
    prompt: str | None = None,
    max_new_tokens: int = 24,
) -> CaptionModel:
    """Load an image-text-to-text model and its processor from a hub id or local directory."""
    if Path(spec).expanduser().is_dir():  # damaged or code-carrying weights: one refusal
        check_weights_dir(Path(spec).expanduser(), f"caption model '{spec}'", CAPTION_SETTING)
    ensure_torchvision_importable()
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

    where = "the local cache (offline mode)" if offline else "the hub or that directory"
    try:
        config = AutoConfig.from_pretrained(spec, local_files_only=offline)
    except (OSError, ValueError) as error:
        raise SceneModelError(
            f"caption model '{spec}': no transformers model config found in {where} ({error}); "
            f"set {CAPTION_SETTING} to an image-text-to-text model id or directory"
        ) from error
    try:
        model = AutoModelForImageTextToText.from_pretrained(spec, local_files_only=offline)
    except ValueError as error:
        raise SceneModelError(
            f"caption model '{spec}' is a '{config.model_type}' model, not an "
            f"image-text-to-text model; set {CAPTION_SETTING} to one (e.g. a BLIP or SmolVLM)"
        ) from error
    except OSError as error:
        raise SceneModelError(
            f"caption model '{spec}': weights missing in {where} ({error}); "
            f"download them or set {CAPTION_SETTING}"
        ) from error
    try:
        processor = AutoProcessor.from_pretrained(spec, local_files_only=offline)
    except (OSError, ValueError) as error:
        raise SceneModelError(
            f"caption model '{spec}': its processor/tokenizer is missing ({error}); "
            f"set {CAPTION_SETTING} to a complete model"
        ) from error
    if not hasattr(processor, "image_processor"):
        raise SceneModelError(
            f"caption model '{spec}': its processor ({type(processor).__name__}) takes no "
            f"images; set {CAPTION_SETTING} to an image-text-to-text model"
        )
    target = pick_device(device)
    model = model.to(target).eval()
    chat = bool(getattr(processor, "chat_template", None))
    text = prompt or (CHAT_PROMPT if chat else PREFIX_PROMPT)
    version = _model_version(model, spec)
    logger.info("loaded caption model %s (version %s) on %s", spec, version, target)
    return CaptionModel(model, processor, target, spec, version, text, max_new_tokens)
