"""Small randomly initialised scene models of the real architectures, saved like real weights.

No CLIP or VLM weights can be downloaded here (ENVIRONMENT.md), so tests and benchmarks build
an open_clip `CLIP` (ViT image tower, transformer text tower, the real BPE tokenizer) and a
transformers BLIP captioner (`BlipForConditionalGeneration` + `BlipProcessor` with a small
WordPiece vocabulary), save them in the layouts users download (`open_clip_config.json` +
`open_clip_model.safetensors`; `save_pretrained`), and the code under test loads them back
through `extract.scene_labels.model_loading` exactly as it loads real weights. Seeds are fixed, so a
saved model is the same on every run.
"""

from __future__ import annotations

import json
from pathlib import Path

from extract.scene_labels.torchvision_compat import ensure_torchvision_importable

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
TINY_CLIP_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
CAPTION_WORDS = (
    *("a", "photograph", "of", "the", "people", "man", "woman", "dancing", "walking"),
    *("on", "in", "at", "with", "and", "street", "park", "stage", "room", "gym", "field"),
    *("beach", "snow", "studio", "floor", "wall", "city", "road", "grass", "court", "crowd"),
    *("office", "home"),
)


def save_open_clip_model(directory: Path, model_cfg: dict, seed: int = 0) -> Path:
    """A random open_clip CLIP with `model_cfg`, saved as a local-dir model; returns the dir."""
    ensure_torchvision_importable()
    import torch
    from open_clip.model import CLIP
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = CLIP(**model_cfg)
    config = {"model_cfg": model_cfg, "preprocess_cfg": {"mean": CLIP_MEAN, "std": CLIP_STD}}
    (directory / "open_clip_config.json").write_text(json.dumps(config, indent=2))
    tensors = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    save_file(tensors, str(directory / "open_clip_model.safetensors"))
    return directory


def save_tiny_open_clip(directory: Path, seed: int = 0) -> Path:
    return save_open_clip_model(directory, TINY_CLIP_CONFIG, seed)


def save_vit_b32_open_clip(directory: Path, seed: int = 0) -> Path:
    """Random weights in open_clip's own ViT-B-32 configuration (151 M parameters)."""
    ensure_torchvision_importable()
    import open_clip

    return save_open_clip_model(directory, open_clip.get_model_config("ViT-B-32"), seed)


def save_tiny_blip_captioner(directory: Path, seed: int = 0) -> Path:
    """A random BLIP image captioner with its processor, saved with `save_pretrained`."""
    ensure_torchvision_importable()
    import torch
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", *CAPTION_WORDS]
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(words)}, bos_token="[DEC]")
    image_processor = BlipImageProcessor(
        size={"height": 64, "width": 64}, image_mean=CLIP_MEAN, image_std=CLIP_STD
    )
    processor = BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)
    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    config = BlipConfig(
        vision_config={**small, "num_attention_heads": 2, "image_size": 64, "patch_size": 16},
        text_config={
            **small,
            "num_attention_heads": 2,
            "vocab_size": len(words),
            "encoder_hidden_size": 32,
            "bos_token_id": words.index("[DEC]"),
            "pad_token_id": 0,
            "sep_token_id": words.index("[SEP]"),
            "max_position_embeddings": 64,
        },
        projection_dim=32,
    )
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(config).eval()
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def build_scene_models(directory: Path) -> dict[str, Path]:
    """Both tiny models under `directory` (`clip`, `clip_other` with another seed, `caption`)."""
    return {
        "clip": save_tiny_open_clip(directory / "clip", seed=0),
        "clip_other": save_tiny_open_clip(directory / "clip_other", seed=1),
        "caption": save_tiny_blip_captioner(directory / "caption", seed=0),
    }
