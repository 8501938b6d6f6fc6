"""The contrastive motion encoder: one factorised space-time backbone, several heads.

Owns `EncoderConfig`, `MotionEncoder`, its typed output `EncoderOutput` and the checkpoint
format. Input contract (from the motion-features dataset): `tokens (B, W, 6, F_max)`, per frame
one token per body part in `TOKEN_NAMES` order (the five parts of `storage.skeleton` plus the
root), each zero-padded to `F_max` with true widths `config.token_sizes`; `descriptors (B, 5, D)`
per-part frequency/amplitude features. Output: a per-frame-ish content sequence for the diffusion
model, pooled content, a global style vector with its body-part weights, and per-part style
vectors (style vectors are L2-normalised, content is not).

Architecture: per-token input projections + token-type and temporal position embeddings, then
`num_layers` pre-norm blocks of attention across the parts of a frame, attention across the
frames of a part, and an MLP (factorised space-time attention as in TimeSformer, Bertasius et
al. 2021, applied to body-part tokens). Heads live in `MotionEncoder.heads`, an `nn.ModuleDict`
keyed "content", "style", "part_style"; a later scene head is a new key reading the same
`encode_backbone` features. Layout and init follow nanoGPT's model.py in spirit.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.common.checkpoint_io import read_checked
from models.encoders.concept_erasure import LinearEraser
from models.encoders.features import NUM_PARTS, NUM_TOKENS, TOKEN_NAMES  # noqa: F401 (re-exported)
from storage.errors import UserInputError, cut_message

# The token layout is the features' (6 tokens: the five body parts, then the root); the style
# heads pool the 5 body parts, not the root.
CHECKPOINT_FORMAT_VERSION = 1
CHECKPOINT_KIND = "stylemotion-motion-encoder"


@dataclass(frozen=True)
class EncoderConfig:
    """Everything needed to rebuild a `MotionEncoder`; saved inside every checkpoint."""

    token_sizes: tuple[int, ...]  # true feature width of each token, TOKEN_NAMES order
    descriptor_size: int  # per-part descriptor width D
    d_model: int = 128
    num_layers: int = 3
    num_heads: int = 4
    dropout: float = 0.1
    content_dim: int = 64
    style_dim: int = 64
    content_stride: int = 4  # frames averaged into one z_content_seq step
    # normalise every backbone channel over the window's frames before the content head
    # (instance norm over time, as in AdaIN-style content encoders): per-window offsets and
    # scales, where posture and amplitude style lives, cannot reach z_c
    content_instance_norm: bool = False
    use_descriptors: bool = True
    max_frames: int = 256  # length of the learned temporal position table

    def __post_init__(self) -> None:
        object.__setattr__(self, "token_sizes", tuple(int(size) for size in self.token_sizes))
        if len(self.token_sizes) != NUM_TOKENS or min(self.token_sizes) < 1:
            raise ValueError(
                f"token_sizes needs {NUM_TOKENS} positive widths, got {self.token_sizes}"
            )
        if self.d_model % self.num_heads != 0:
            raise ValueError(f"d_model {self.d_model} is not divisible by {self.num_heads} heads")
        if self.content_stride < 1 or self.max_frames < self.content_stride:
            raise ValueError("content_stride must be in [1, max_frames]")


@dataclass(frozen=True, eq=False)
class EncoderOutput:
    """What `MotionEncoder.forward` returns; shapes for batch B and window W."""

    z_content_seq: Tensor  # (B, W // content_stride, Dc), not normalised
    z_content: Tensor  # (B, Dc), mean of the per-frame content over all W frames
    z_style: Tensor  # (B, Ds), unit length
    part_weights: Tensor  # (B, 5), softmax over the body parts
    z_style_parts: Tensor  # (B, 5, Ds), unit length

    @property
    def z_content_normalised(self) -> Tensor:
        """Unit-length view of `z_content` `(B, Dc)` for cosine-similarity losses."""
        return F.normalize(self.z_content.float(), dim=-1)


def check_shape(name: str, tensor: Tensor, expected: tuple[int | None, ...]) -> None:
    """Raise a ValueError naming `name` unless `tensor` has `expected` shape (None = any size)."""
    ok = tensor.ndim == len(expected) and all(
        size is None or actual == size for actual, size in zip(tensor.shape, expected, strict=True)
    )
    if not ok:
        shown = tuple("*" if size is None else size for size in expected)
        raise ValueError(f"{name} must have shape {shown}, got {tuple(tensor.shape)}")


class SelfAttention(nn.Module):
    """Multi-head self-attention over the second-to-last axis of `(N, L, D)`."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)
        self.out.is_residual_projection = True
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        N, L, D = x.shape
        q, k, v = self.qkv(x).split(D, dim=-1)  # 3 x (N, L, D)
        q, k, v = (t.view(N, L, self.num_heads, -1).transpose(1, 2) for t in (q, k, v))
        # Dropout only on the residual branches, not on the attention probabilities: that would
        # force the unfused attention kernel on CPU (~10-15 % of a CPU training step).
        y = F.scaled_dot_product_attention(q, k, v)  # (N, H, L, D/H)
        y = y.transpose(1, 2).reshape(N, L, D)
        return self.resid_dropout(self.out(y))


class FeedForward(nn.Module):
    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.up = nn.Linear(config.d_model, 4 * config.d_model)
        self.down = nn.Linear(4 * config.d_model, config.d_model)
        self.down.is_residual_projection = True
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.down(F.gelu(self.up(x))))


class SpaceTimeBlock(nn.Module):
    """Pre-norm block: attention across parts (per frame), across time (per part), then MLP."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.norm_space = nn.LayerNorm(config.d_model)
        self.attn_space = SelfAttention(config)
        self.norm_time = nn.LayerNorm(config.d_model)
        self.attn_time = SelfAttention(config)
        self.norm_mlp = nn.LayerNorm(config.d_model)
        self.mlp = FeedForward(config)

    def forward(self, x: Tensor) -> Tensor:
        B, W, P, D = x.shape
        space = self.attn_space(self.norm_space(x).reshape(B * W, P, D))  # (B*W, P, D)
        x = x + space.view(B, W, P, D)
        per_part = self.norm_time(x).transpose(1, 2).reshape(B * P, W, D)  # (B*P, W, D)
        time = self.attn_time(per_part).view(B, P, W, D).transpose(1, 2)  # (B, W, P, D)
        x = x + time
        return x + self.mlp(self.norm_mlp(x))  # (B, W, P, D)


class PartAttentionPool(nn.Module):
    """Attentive statistics pooling of each body part over time: `(B, W, 5, D) -> (B, 5, D)`.

    Each part has its own learned query per head; the pooled summary is the attention-weighted
    mean and standard deviation of the values (Okabe et al. 2018, x-vector statistics pooling).
    The deviation matters for style: over whole cycles of a periodic motion every linear feature
    averages to ~0, and style lives in second-order statistics (energy, tempo), as in the
    Gram-matrix motion style of Holden et al. 2016.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.norm = nn.LayerNorm(config.d_model)
        self.queries = nn.Parameter(torch.zeros(NUM_PARTS, config.d_model))
        self.key_value = nn.Linear(config.d_model, 2 * config.d_model)
        self.out = nn.Linear(2 * config.d_model, config.d_model)

    def forward(self, parts: Tensor) -> Tensor:
        B, W, P, D = parts.shape
        H = self.num_heads
        k, v = self.key_value(self.norm(parts)).split(D, dim=-1)  # 2 x (B, W, P, D)
        with torch.autocast(device_type=parts.device.type, enabled=False):  # v^2 in fp32
            k, v = k.float().view(B, W, P, H, -1), v.float().view(B, W, P, H, -1)
            q = self.queries.float().view(P, H, -1)  # (P, H, D/H)
            scores = torch.einsum("bwphe,phe->bphw", k, q) / math.sqrt(D // H)  # (B, P, H, W)
            weights = torch.softmax(scores, dim=-1)
            mean = torch.einsum("bphw,bwphe->bphe", weights, v)  # (B, P, H, D/H)
            second = torch.einsum("bphw,bwphe->bphe", weights, v.square())
            std = (second - mean.square()).clamp(min=1e-6).sqrt()  # (B, P, H, D/H)
        stats = torch.cat([mean.reshape(B, P, D), std.reshape(B, P, D)], dim=-1)  # (B, P, 2D)
        return self.out(stats)  # (B, P, D)


def _descriptor_projection(config: EncoderConfig) -> nn.Module | None:
    if not config.use_descriptors:
        return None
    return nn.Sequential(
        nn.Linear(config.descriptor_size, config.d_model),
        nn.GELU(),
        nn.Linear(config.d_model, config.d_model),
    )


def _fuse_descriptors(parts: Tensor, projection: nn.Module | None, descriptors: Tensor | None):
    """Adds projected per-part descriptors `(B, 5, Dd) -> (B, 5, D)` to part summaries."""
    if projection is None:
        return parts
    if descriptors is None:
        raise ValueError("this encoder uses descriptors (use_descriptors=True) but got None")
    return parts + projection(descriptors)  # (B, 5, D)


def temporal_instance_norm(x: Tensor, eps: float = 1e-5) -> Tensor:
    """`(B, W, C)` with every channel of every window at zero mean and unit variance over W."""
    mean = x.mean(dim=1, keepdim=True)
    variance = x.var(dim=1, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(variance + eps)


class ContentHead(nn.Module):
    """Per-frame content from all six tokens, averaged in strides of `content_stride` frames."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.stride = config.content_stride
        self.instance_norm = config.content_instance_norm
        self.norm = nn.LayerNorm(NUM_TOKENS * config.d_model)
        self.up = nn.Linear(NUM_TOKENS * config.d_model, config.d_model)
        self.down = nn.Linear(config.d_model, config.content_dim)
        # fitted after training (`models.encoders.content_erasure`); the identity until then
        self.style_eraser = LinearEraser(config.content_dim)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        B, W, P, D = features.shape
        flat = features.reshape(B, W, P * D)
        if self.instance_norm:
            flat = temporal_instance_norm(flat)
        per_frame = self.style_eraser(self.down(F.gelu(self.up(self.norm(flat)))))
        steps = W // self.stride  # trailing W % stride frames only reach the pooled vector
        sequence = per_frame[:, : steps * self.stride].reshape(B, steps, self.stride, -1)
        return sequence.mean(dim=2), per_frame.mean(dim=1)  # (B, W//s, Dc), (B, Dc)


class StyleHead(nn.Module):
    """Global style: per-part temporal attention pooling, then an input-dependent softmax
    weighting of the five parts ("attention to the main body parts"), projected to unit length.
    The root token is not pooled: spatial attention has already mixed it into every part."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.pool = PartAttentionPool(config)
        self.descriptors = _descriptor_projection(config)
        self.part_score = nn.Sequential(  # additive attention (Bahdanau et al. 2015)
            nn.LayerNorm(config.d_model),
            nn.Linear(config.d_model, config.d_model),
            nn.Tanh(),
            nn.Linear(config.d_model, 1),
        )
        self.norm = nn.LayerNorm(config.d_model)
        self.project = nn.Linear(config.d_model, config.style_dim)

    def forward(self, features: Tensor, descriptors: Tensor | None) -> tuple[Tensor, Tensor]:
        parts = self.pool(features[:, :, :NUM_PARTS])  # (B, 5, D)
        parts = _fuse_descriptors(parts, self.descriptors, descriptors)
        scores = self.part_score(parts).squeeze(-1)  # (B, 5)
        weights = torch.softmax(scores.float(), dim=-1)  # (B, 5)
        pooled = (weights.unsqueeze(-1).to(parts.dtype) * parts).sum(dim=1)  # (B, D)
        return F.normalize(self.project(self.norm(pooled)), dim=-1), weights  # (B, Ds), (B, 5)


class PartStyleHead(nn.Module):
    """Per-part style: each part pooled over time, projected to a shared unit-length space."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.pool = PartAttentionPool(config)
        self.descriptors = _descriptor_projection(config)
        self.norm = nn.LayerNorm(config.d_model)
        self.project = nn.Linear(config.d_model, config.style_dim)

    def forward(self, features: Tensor, descriptors: Tensor | None) -> Tensor:
        parts = self.pool(features[:, :, :NUM_PARTS])  # (B, 5, D)
        parts = _fuse_descriptors(parts, self.descriptors, descriptors)
        return F.normalize(self.project(self.norm(parts)), dim=-1)  # (B, 5, Ds)


def build_heads(config: EncoderConfig) -> nn.ModuleDict:
    """The heads, keyed by name. Extension point for a third head (scene): give it a config
    field (e.g. `scene_dim`, 0 = off, so old checkpoints still load), build it here under the
    key "scene" from the backbone features `(B, W, 6, D)`, and add its output to
    `EncoderOutput`. A head trained separately can instead stay outside the encoder and call
    `MotionEncoder.encode_backbone` once per batch."""
    heads = {"content": ContentHead(config), "style": StyleHead(config)}
    heads["part_style"] = PartStyleHead(config)
    return nn.ModuleDict(heads)


class MotionEncoder(nn.Module):
    """Body-part token encoder with content, style and part-style heads (see `build_heads`)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        D = config.d_model
        self.input_projections = nn.ModuleList(nn.Linear(size, D) for size in config.token_sizes)
        self.token_embedding = nn.Parameter(torch.zeros(NUM_TOKENS, D))
        self.time_embedding = nn.Parameter(torch.zeros(config.max_frames, D))
        self.input_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(SpaceTimeBlock(config) for _ in range(config.num_layers))
        self.final_norm = nn.LayerNorm(D)
        self.heads = build_heads(config)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        # GPT-2 style: N(0, 0.02), residual projections scaled down by the number of residual
        # branches (three per block) so the residual stream keeps its scale at init.
        if isinstance(module, nn.Linear):
            std = 0.02
            if getattr(module, "is_residual_projection", False):
                std /= math.sqrt(3 * self.config.num_layers)
            nn.init.normal_(module.weight, mean=0.0, std=std)
            nn.init.zeros_(module.bias)
        elif isinstance(module, MotionEncoder | PartAttentionPool):
            for parameter in module._parameters.values():
                nn.init.normal_(parameter, mean=0.0, std=0.02)

    def encode_backbone(self, tokens: Tensor) -> Tensor:
        """Shared features `(B, W, 6, D)` of `tokens (B, W, 6, F_max)`, computed once per batch."""
        B, W = tokens.shape[:2]
        check_shape("tokens", tokens, (B, W, NUM_TOKENS, None))
        if tokens.shape[-1] < max(self.config.token_sizes):
            raise ValueError(f"tokens width {tokens.shape[-1]} < widest token size")
        low, high = self.config.content_stride, self.config.max_frames
        if not low <= W <= high:
            raise ValueError(f"{W} frames outside [content_stride, max_frames] = [{low}, {high}]")
        sizes = self.config.token_sizes  # padding beyond each true width is never read
        x = [
            project(tokens[:, :, i, : sizes[i]]) for i, project in enumerate(self.input_projections)
        ]
        x = torch.stack(x, dim=2)  # (B, W, 6, D)
        x = x + self.token_embedding + self.time_embedding[:W, None, :]
        x = self.input_dropout(x)
        for block in self.blocks:
            x = block(x)
        return self.final_norm(x)  # (B, W, 6, D)

    def forward(self, tokens: Tensor, descriptors: Tensor | None) -> EncoderOutput:
        """Encode `tokens (B, W, 6, F_max)` and `descriptors (B, 5, Dd)` (None only when
        `use_descriptors` is False) into an `EncoderOutput`."""
        B, W = tokens.shape[:2]
        if descriptors is not None:
            check_shape("descriptors", descriptors, (B, NUM_PARTS, self.config.descriptor_size))
        features = self.encode_backbone(tokens)  # (B, W, 6, D)
        z_content_seq, z_content = self.heads["content"](features)
        z_style, part_weights = self.heads["style"](features, descriptors)
        z_style_parts = self.heads["part_style"](features, descriptors)
        output = EncoderOutput(z_content_seq, z_content, z_style, part_weights, z_style_parts)
        c = self.config
        for name, shape in {
            "z_content_seq": (B, W // c.content_stride, c.content_dim),
            "z_content": (B, c.content_dim),
            "z_style": (B, c.style_dim),
            "part_weights": (B, NUM_PARTS),
            "z_style_parts": (B, NUM_PARTS, c.style_dim),
        }.items():
            check_shape(name, getattr(output, name), shape)
        return output


class CheckpointError(ValueError, UserInputError):
    """A checkpoint file cannot be turned back into a `MotionEncoder`; the message names it."""


def save_checkpoint(path: str | Path, model: MotionEncoder, extra: dict[str, Any]) -> None:
    """Write config, weights and `extra` to `path` atomically. `extra` may hold plain Python
    data, tensors and numpy arrays (what `load_encoder` reads back with `weights_only=True`)."""
    path = Path(path)
    payload = {
        "kind": CHECKPOINT_KIND,
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "config": asdict(model.config),
        "state_dict": model.state_dict(),
        "extra": dict(extra),
    }
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


# `torch.load(weights_only=True)` refuses every class it does not know. Numpy arrays and scalars
# in `extra` (a numpy RNG state, say) are plain data, so their rebuilders are allowed by name.
_NUMPY_DATA_GLOBALS = [np.ndarray, np.dtype, np._core.multiarray._reconstruct]
_NUMPY_DATA_GLOBALS += [
    np._core.multiarray.scalar,
    *(getattr(np.dtypes, n) for n in np.dtypes.__all__),
]


def _read_config(path: Path, values: object) -> EncoderConfig:
    names = {field.name for field in fields(EncoderConfig)}
    if not isinstance(values, dict) or set(values) - names:
        unknown = sorted(set(values) - names) if isinstance(values, dict) else values
        raise CheckpointError(f"{path}: config has fields this code does not know: {unknown}")
    try:
        return EncoderConfig(**values)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: config cannot be rebuilt: {cut_message(error)}") from error


def load_encoder(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[MotionEncoder, dict[str, Any]]:
    """Rebuild the encoder saved at `path` (in eval mode) and return it with its `extra` dict."""
    path = Path(path)
    payload = read_checked(
        path,
        CHECKPOINT_KIND,
        CHECKPOINT_FORMAT_VERSION,
        CheckpointError,
        "motion-encoder",
        map_location,
        _NUMPY_DATA_GLOBALS,
    )
    model = MotionEncoder(_read_config(path, payload.get("config")))
    try:  # strict=False still raises on a shape mismatch; the key lists are checked below
        result = model.load_state_dict(payload.get("state_dict", {}), strict=False)
    except (RuntimeError, TypeError, AttributeError) as error:
        detail = cut_message(error)
        raise CheckpointError(f"{path}: weights do not match the model: {detail}") from error
    missing = [key for key in result.missing_keys if ".style_eraser." not in key]  # older runs
    if missing or result.unexpected_keys:
        raise CheckpointError(
            f"{path}: weights do not match the model: missing {missing}, "
            f"unexpected {result.unexpected_keys}"
        )
    model.to(map_location)
    return model.eval(), payload.get("extra", {})
