"""The motion denoiser: an MDM-like transformer over frames with a style adaptor.

Owns `DenoiserConfig` and `MotionDenoiser`. Base network (stage a): input projection of the noisy
motion `x_t (B, W, D)`, plus the diffusion timestep embedding and the source content sequence
`z_c (B, W / stride, Dc)` (repeated to frame rate and projected, added per frame) and, when
`trajectory_dim > 0`, the source's root trajectory (ground path and heading per frame), then
`num_layers` pre-norm transformer blocks and an output projection to the clean motion x0.
With `skip_connection` the x0 prediction is `sqrt(a_t) x_t + sqrt(1 - a_t) F(...)` (the
preconditioning of Karras et al. 2022 for unit-variance data; `a_t` = the schedule's
alpha-bar): at low noise the prediction starts from x_t instead of having to learn to copy it.
Measured on 2,500-step bases (docs/STYLIZATION.md): without it the x0 prediction at t = 10 is
no better than at t = 100 (MSE 0.125 both) and samples move at ~60 % of the source's joint
speed; with it the low-noise prediction copies x_t (MSE 0.004) but samples keep residual noise
(joint speed ~6x the source's). Off by default until longer training settles it.

Style adaptor (stage b, the base frozen): LoRA (Hu et al. 2021) on the query and value projections
of every self-attention, and a cross-attention in every block onto six style tokens — the global
style `z_s` (plus `alpha * z_scene` when a scene is given) and one token per body part
`z_s^p` — whose output passes a zero-initialised gate, so the adapted model starts as the base
(ControlNet's zero-init trick). A learned null token set stands for "no style": dropping the
style in training enables classifier-free guidance. Parameters of the adaptor carry
"adaptor" in their names (`adaptor_parameters`).

Source control (`source_control`, trained with the adaptor; issue 17): a ControlNet-like branch
reads the source window itself at the model's frame rate (its encoding in the model's space, not
the pooled content code) through a small per-frame network, and adds it to the input of every
block through its own zero-initialised projection, so the adapted model starts exactly as the
base and learns how much of the source to carry. A base run gets the branch when its adaptor is
trained with it (`with_source_control`). In training the branch reads the very window the
diffusion loss scores, so on reconstruction rows it could copy it; the cross-style rows' style
losses are what keep it from copying everything (docs/STYLIZATION.md measures the balance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.diffusion.schedule import NoiseSchedule
from models.encoders.features import NUM_PARTS

NUM_STYLE_TOKENS = NUM_PARTS + 1  # global + one per body part


@dataclass(frozen=True)
class DenoiserConfig:
    """Everything needed to rebuild a `MotionDenoiser`; saved in every diffusion checkpoint."""

    motion_dim: int
    window_frames: int = 60
    content_dim: int = 64
    content_stride: int = 4
    style_dim: int = 64
    d_model: int = 128
    num_layers: int = 4
    num_heads: int = 4
    dropout: float = 0.1
    lora_rank: int = 8
    lora_alpha: float = 8.0
    trajectory_dim: int = 0  # > 0: the source's root trajectory conditions every frame
    rhythm_condition: bool = False  # the trajectory condition also holds the gesture rhythm
    skip_connection: bool = False  # x0 = sqrt(a_t) x_t + sqrt(1 - a_t) F (see the module doc)
    diffusion_steps: int = 1000  # the schedule's length, for the skip connection's a_t
    source_control: bool = False  # the ControlNet-like branch over the source (module doc)

    def __post_init__(self) -> None:
        if self.window_frames % self.content_stride:
            raise ValueError("window_frames must be a multiple of content_stride")
        if self.d_model % self.num_heads:
            raise ValueError("d_model must be divisible by num_heads")


class LoRALinear(nn.Module):
    """`base(x) + (alpha / r) * up(down(x))`; `up` starts at zero, so the layer starts as base."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.adaptor_down = nn.Linear(base.in_features, rank, bias=False)
        self.adaptor_up = nn.Linear(rank, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.adaptor_down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.adaptor_up.weight)
        self.scale = alpha / rank
        self.enabled = True

    def forward(self, x: Tensor) -> Tensor:
        out = self.base(x)
        if self.enabled:
            out = out + self.scale * self.adaptor_up(self.adaptor_down(x))
        return out


class SelfAttention(nn.Module):
    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        D, r, a = config.d_model, config.lora_rank, config.lora_alpha
        self.heads = config.num_heads
        self.query = LoRALinear(nn.Linear(D, D), r, a)
        self.key = nn.Linear(D, D)
        self.value = LoRALinear(nn.Linear(D, D), r, a)
        self.out = nn.Linear(D, D)
        self.dropout = config.dropout

    def _split(self, x: Tensor) -> Tensor:
        B, N, D = x.shape
        return x.view(B, N, self.heads, D // self.heads).transpose(1, 2)  # (B, H, N, D/H)

    def forward(self, x: Tensor) -> Tensor:
        B, W, D = x.shape
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)  # (B, H, W, D/H)
        return self.out(y.transpose(1, 2).reshape(B, W, D))


class StyleCrossAttention(nn.Module):
    """Frames attend to the style tokens; the result is scaled by a zero-initialised gate."""

    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        D = config.d_model
        self.adaptor_norm = nn.LayerNorm(D)
        self.adaptor_attention = nn.MultiheadAttention(
            D, config.num_heads, dropout=config.dropout, batch_first=True
        )
        self.adaptor_gate = nn.Parameter(torch.zeros(D))

    def forward(self, x: Tensor, style_tokens: Tensor) -> Tensor:
        attended, _ = self.adaptor_attention(self.adaptor_norm(x), style_tokens, style_tokens)
        return self.adaptor_gate * attended  # (B, W, D)


class DenoiserBlock(nn.Module):
    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        D = config.d_model
        self.norm_attention = nn.LayerNorm(D)
        self.attention = SelfAttention(config)
        self.style = StyleCrossAttention(config)
        self.norm_mlp = nn.LayerNorm(D)
        self.mlp = nn.Sequential(
            nn.Linear(D, 4 * D), nn.GELU(), nn.Linear(4 * D, D), nn.Dropout(config.dropout)
        )

    def forward(self, x: Tensor, style_tokens: Tensor | None) -> Tensor:
        x = x + self.attention(self.norm_attention(x))
        if style_tokens is not None:
            x = x + self.style(x, style_tokens)
        return x + self.mlp(self.norm_mlp(x))


class SourceControl(nn.Module):
    """Per-frame features of the source `(B, W, Dm)` added before each block through a
    zero-initialised projection per block (all parameters named "adaptor_control...")."""

    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        D = config.d_model
        self.adaptor_control_input = nn.Sequential(
            nn.Linear(config.motion_dim, D), nn.GELU(), nn.Linear(D, D)
        )
        self.adaptor_control_frames = nn.Conv1d(D, D, kernel_size=3, padding=1)
        self.adaptor_control_zero = nn.ModuleList(nn.Linear(D, D) for _ in range(config.num_layers))
        for projection in self.adaptor_control_zero:
            nn.init.zeros_(projection.weight)
            nn.init.zeros_(projection.bias)

    def forward(self, source: Tensor) -> list[Tensor]:
        """One `(B, W, D)` injection per block from the source `(B, W, Dm)`."""
        h = self.adaptor_control_input(source)  # (B, W, D)
        h = h + self.adaptor_control_frames(h.transpose(1, 2)).transpose(1, 2)
        return [projection(h) for projection in self.adaptor_control_zero]


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding `(B, dim)` of integer timesteps `t (B,)`."""
    half = dim // 2
    frequencies = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * frequencies[None]  # (B, half)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


class MotionDenoiser(nn.Module):
    """x0 prediction `(B, W, D)` from x_t, timestep, content sequence and optional style tokens."""

    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        self.config = config
        D = config.d_model
        self.input_projection = nn.Linear(config.motion_dim, D)
        self.content_projection = nn.Linear(config.content_dim, D)
        self.trajectory_projection = (
            nn.Linear(config.trajectory_dim, D) if config.trajectory_dim > 0 else None
        )
        self.time_mlp = nn.Sequential(nn.Linear(D, D), nn.SiLU(), nn.Linear(D, D))
        self.frame_embedding = nn.Parameter(torch.randn(config.window_frames, D) * 0.02)
        self.blocks = nn.ModuleList(DenoiserBlock(config) for _ in range(config.num_layers))
        self.final_norm = nn.LayerNorm(D)
        self.output_projection = nn.Linear(D, config.motion_dim)
        self.adaptor_style_projection = nn.Linear(config.style_dim, D)
        self.adaptor_token_type = nn.Parameter(torch.randn(NUM_STYLE_TOKENS, D) * 0.02)
        self.adaptor_null_tokens = nn.Parameter(torch.randn(NUM_STYLE_TOKENS, D) * 0.02)
        self.adaptor_source_control = SourceControl(config) if config.source_control else None
        self.adaptor_enabled = False
        if config.skip_connection:
            rates = NoiseSchedule(config.diffusion_steps).alphas_cumprod
            self.register_buffer("signal_rates", rates, persistent=False)  # (T,)

    def set_adaptor(self, enabled: bool) -> None:
        """Switch the style adaptor (LoRA + style cross-attention) on or off."""
        self.adaptor_enabled = enabled
        for module in self.modules():
            if isinstance(module, LoRALinear):
                module.enabled = enabled

    def adaptor_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if "adaptor" in name]

    def base_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if "adaptor" not in name]

    def style_tokens(self, style_vectors: Tensor, keep_style: Tensor) -> Tensor:
        """Tokens `(B, 6, D)` from style vectors `(B, 6, Ds)` (global first, then the parts);
        rows where `keep_style (B,)` is False get the null tokens (unconditional)."""
        tokens = self.adaptor_style_projection(style_vectors) + self.adaptor_token_type
        null = self.adaptor_null_tokens.expand_as(tokens)
        return torch.where(keep_style[:, None, None], tokens, null)  # (B, 6, D)

    def _control(self, source: Tensor | None, x_t: Tensor) -> list[Tensor] | None:
        if self.adaptor_source_control is None or not self.adaptor_enabled:
            return None
        if source is None:
            raise ValueError("this denoiser has source control: pass the source window")
        if source.shape != x_t.shape:
            raise ValueError(
                f"source {tuple(source.shape)}: must match x_t {tuple(x_t.shape)} (the source "
                "window in the model's space)"
            )
        return self.adaptor_source_control(source)

    def content_condition(self, z_content_seq: Tensor) -> Tensor:
        """Per-frame content conditioning `(B, W, D)` of `z_content_seq (B, W / stride, Dc)`."""
        upsampled = z_content_seq.repeat_interleave(self.config.content_stride, dim=1)
        return self.content_projection(upsampled)

    def forward(
        self,
        x_t: Tensor,
        t: Tensor,
        z_content_seq: Tensor,
        style_vectors: Tensor | None = None,
        keep_style: Tensor | None = None,
        trajectory: Tensor | None = None,
        source: Tensor | None = None,
    ) -> Tensor:
        """x_t `(B, W, D)`, t `(B,)`, z_content_seq `(B, W/stride, Dc)`, style_vectors
        `(B, 6, Ds)` or None (base), trajectory `(B, W, trajectory_dim)` when the model takes
        one (`models.diffusion.motion_repr.trajectory_condition`), source `(B, W, D)` (the
        source window in the model's space) when it has source control -> x0 `(B, W, D)`."""
        B, frames, _ = x_t.shape
        if frames != self.config.window_frames:
            raise ValueError(
                f"window of {frames} frames, the model takes {self.config.window_frames}"
            )
        h = self.input_projection(x_t) + self.content_condition(z_content_seq)  # (B, W, D)
        if self.trajectory_projection is not None:
            if trajectory is None:
                raise ValueError("this denoiser is conditioned on the source trajectory: pass it")
            h = h + self.trajectory_projection(trajectory)
        h = (
            h
            + self.frame_embedding[None]
            + self.time_mlp(timestep_embedding(t, h.shape[-1]))[:, None]
        )
        tokens = None
        if self.adaptor_enabled and style_vectors is not None:
            keep = keep_style if keep_style is not None else torch.ones(B, dtype=torch.bool)
            tokens = self.style_tokens(style_vectors, keep.to(x_t.device))
        elif self.adaptor_enabled:
            tokens = self.adaptor_null_tokens.expand(B, -1, -1)
        injections = self._control(source, x_t)
        for index, block in enumerate(self.blocks):
            if injections is not None:
                h = h + injections[index]
            h = block(h, tokens)
        out = self.output_projection(self.final_norm(h))  # (B, W, D)
        if not self.config.skip_connection:
            return out
        a = self.signal_rates[t].view(-1, 1, 1)  # (B, 1, 1)
        return a.sqrt() * x_t + (1 - a).sqrt() * out


def with_source_control(model: MotionDenoiser) -> MotionDenoiser:
    """The same network with a fresh (zero-injecting) source-control branch; a model that has
    one is returned as it is."""
    if model.config.source_control:
        return model
    grown = MotionDenoiser(replace(model.config, source_control=True))
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    if unexpected or any("adaptor_source_control" not in name for name in missing):
        raise ValueError(f"source control: weights do not carry over ({missing}, {unexpected})")
    grown.set_adaptor(model.adaptor_enabled)
    return grown.to(next(model.parameters()).device)
