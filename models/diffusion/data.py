"""Training data of the diffusion stage: local windows and their frozen-encoder codes.

Owns `EncoderCodes` (the frozen encoders applied to positions, with gradients when asked) and
`DiffusionData`: every training window of the encoder split (`models.encoders.windows.split_of`),
moved into its own frame (`models.diffusion.motion_repr`), with the encoders' content sequence,
global style and part styles computed once (the encoders are frozen, so the codes never change), the
style and content labels, the space the denoiser works in (the standardised positions, or a motion
VAE's latent in latent mode), and per-style prototypes (the normalised mean style of a style's
windows) used when a style is asked for by its label.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from models.diffusion.motion_repr import MotionNormaliser, to_local_window
from models.encoders.encoder import EncoderOutput, MotionEncoder
from models.encoders.features import FeatureConfig, FeatureStats
from models.encoders.torch_features import window_features_torch
from models.encoders.windows import LabelVocabulary, WindowIndex, load_clips
from storage.errors import UserInputError
from storage.records import MotionClip

logger = logging.getLogger(__name__)


class DiffusionDataError(UserInputError, ValueError):
    """The dataset or encoder run cannot train the diffusion stage; the message says why."""


@dataclass
class EncoderCodes:
    """The frozen encoders as a function of positions `(B, W, J, 3)` in metres."""

    model: MotionEncoder
    stats: FeatureStats
    features: FeatureConfig

    def __call__(self, positions: Tensor) -> EncoderOutput:
        tokens, descriptors = window_features_torch(positions, self.features.fps, self.features)
        tokens, descriptors = self.stats.normalise(tokens, descriptors)
        use = self.model.config.use_descriptors
        return self.model(tokens, descriptors if use else None)

    @torch.no_grad()
    def encode_windows(self, windows: np.ndarray, batch_size: int = 256) -> dict[str, Tensor]:
        """Codes of local windows `(N, W, J, 3)`: content_seq, style, parts (no gradients)."""
        out: dict[str, list[Tensor]] = {"content_seq": [], "style": [], "parts": []}
        device = next(self.model.parameters()).device
        for start in range(0, len(windows), batch_size):
            chunk = torch.as_tensor(windows[start : start + batch_size], device=device)
            codes = self(chunk)
            out["content_seq"].append(codes.z_content_seq.float().cpu())
            out["style"].append(codes.z_style.float().cpu())
            out["parts"].append(codes.z_style_parts.float().cpu())
        return {name: torch.cat(values) for name, values in out.items()}


def style_vectors(style: Tensor, parts: Tensor) -> Tensor:
    """The adaptor's style input `(B, 6, Ds)`: global style then the five part styles."""
    return torch.cat([style[:, None], parts], dim=1)


@dataclass
class DiffusionData:
    windows: Tensor  # (N, W, J, 3) local positions
    content_seq: Tensor  # (N, W / stride, Dc)
    style: Tensor  # (N, Ds)
    parts: Tensor  # (N, 5, Ds)
    style_labels: Tensor  # (N,)
    content_labels: Tensor  # (N,)
    vocabulary: LabelVocabulary
    normaliser: MotionNormaliser
    latent_vae: Any = None  # the VAERun in latent mode

    @property
    def space(self) -> Any:
        """What the denoiser works in: the normaliser, or the VAE's latent space."""
        return self.latent_vae.space if self.latent_vae is not None else self.normaliser

    def __len__(self) -> int:
        return len(self.windows)

    def prototypes(self) -> tuple[Tensor, Tensor]:
        """Per-style normalised mean global `(S, Ds)` and part `(S, 5, Ds)` styles."""
        S = len(self.vocabulary.styles)
        glob = torch.zeros(S, self.style.shape[1])
        parts = torch.zeros(S, *self.parts.shape[1:])
        for s in range(S):
            chosen = self.style_labels == s
            if chosen.any():
                glob[s] = F.normalize(self.style[chosen].mean(0), dim=-1)
                parts[s] = F.normalize(self.parts[chosen].mean(0), dim=-1)
        return glob, parts


def local_windows(clips: list[MotionClip], index: WindowIndex) -> np.ndarray:
    """Every indexed window `(N, W, J, 3)` moved into its own frame."""
    width = index.window_frames
    windows = [
        to_local_window(clips[c].positions[s : s + width])[0]
        for c, s in zip(index.clip_indices.tolist(), index.starts.tolist(), strict=True)
    ]
    return np.stack(windows).astype(np.float32)


def split_windows(
    data_root: str,
    vocabulary: LabelVocabulary,
    features: FeatureConfig,
    split: str = "train",
    stride_frames: int | None = None,
) -> tuple[WindowIndex, np.ndarray]:
    """The window index and local windows `(N, W, J, 3)` of the encoder split's `split` clips
    of the vocabulary's styles, every `stride_frames` frames (None: the features' stride)."""
    clips = [c for c in load_clips(data_root, splits=(split,)) if c.style in vocabulary.styles]
    if not clips:
        raise DiffusionDataError(f"{data_root}: no {split} clips of the encoders' styles")
    if stride_frames is not None:
        features = replace(features, stride_frames=stride_frames)
    index = WindowIndex.from_clips(clips, vocabulary, features)
    if len(index) == 0:
        raise DiffusionDataError(f"{data_root}: every {split} clip is shorter than a window")
    return index, local_windows(clips, index)


def build_diffusion_data(
    data_root: str,
    codes: EncoderCodes,
    vocabulary: LabelVocabulary,
    stride_frames: int | None = None,
) -> DiffusionData:
    """Windows of the encoder split's training clips, every `stride_frames` frames (None: the
    encoders' stride), with their frozen-encoder codes."""
    index, windows = split_windows(data_root, vocabulary, codes.features, "train", stride_frames)
    encoded = codes.encode_windows(windows)
    logger.info("diffusion data: %d windows", len(windows))
    return DiffusionData(
        windows=torch.as_tensor(windows),
        content_seq=encoded["content_seq"],
        style=encoded["style"],
        parts=encoded["parts"],
        style_labels=torch.as_tensor(index.styles),
        content_labels=torch.as_tensor(index.contents),
        vocabulary=vocabulary,
        normaliser=MotionNormaliser.fit(windows),
    )
