"""Training of the feed-forward AdaIN stylizer, the encoders frozen throughout.

Owns `TrainAdaINConfig` (with `AdaINSize` and `AdaINLossConfig`: one weight and one on/off flag
per loss) and `train_adain(config) -> run_dir`. The training windows and their frozen-encoder
codes are the diffusion stage's (`models.diffusion.data.build_diffusion_data`: the encoder
split's training clips, standardised by a `MotionNormaliser` fitted on them). Each batch has two
parts: the reconstruction rows get their own window's style vectors and are scored against the
window (MSE of the standardised window, joint velocity); the cross-style rows get the style
vectors of a window of another style (`models.diffusion.train._pick_references`; some keep one
part group of their own, `_mix_parts`, so per-part requests are trained) and are scored by the
frozen encoders (style identity of `z_s` and of the part codes, content of `z_c` against the
source's) and against the source (key joints); foot skating and bone length apply to every row.
A run directory holds run.json, metrics.jsonl and last.pt (`models.feedforward.checkpoint`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from models.common.training import choose_device, seed_everything
from models.common.training_log import append_metrics, progress_bar
from models.diffusion.data import (
    DiffusionData,
    DiffusionDataError,
    EncoderCodes,
    build_diffusion_data,
    style_vectors,
)
from models.diffusion.losses import (
    bone_length_loss,
    content_loss,
    foot_skate_loss,
    key_joint_loss,
    style_identity_loss,
    velocity_loss,
)
from models.diffusion.motion_repr import MOTION_DIM
from models.diffusion.train import _mix_parts, _pick_references
from models.encoders.run import EncoderRun, load_encoder_run
from models.feedforward.adain import AdaINConfig, AdaINStylizerNet, stylized_positions
from models.feedforward.checkpoint import save_adain_checkpoint

logger = logging.getLogger(__name__)

Terms = dict[str, tuple[Tensor, float]]


@dataclass(frozen=True)
class AdaINSize:
    channels: int = 128
    num_layers: int = 3
    kernel: int = 5
    style_hidden: int = 256
    root_passthrough: bool = True  # the output's pelvis ground path is the source's


@dataclass(frozen=True)
class AdaINLossConfig:
    reconstruction_enabled: bool = True  # own style: MSE of the standardised window
    reconstruction_weight: float = 1.0
    velocity_enabled: bool = True  # own style: joint velocities vs the window's
    velocity_weight: float = 1.0
    style_enabled: bool = True  # cross style: frozen z_s of the output vs the target's
    style_weight: float = 1.0
    part_style_enabled: bool = True  # cross style: frozen part codes vs the target's
    part_style_weight: float = 0.5
    content_enabled: bool = True  # cross style: frozen z_c sequence vs the source's
    content_weight: float = 1.0
    key_joint_enabled: bool = True  # cross style: root trajectory + end effectors vs the source
    key_joint_weight: float = 0.5
    end_effector_share: float = 0.2
    foot_enabled: bool = True  # every row: foot skating
    foot_weight: float = 1.0
    bone_enabled: bool = True  # every row: bone lengths vs the source's
    bone_weight: float = 1.0
    contact_height_m: float = 0.05


@dataclass(frozen=True)
class TrainAdaINConfig:
    data_root: str
    encoder_run: str
    out: str
    seed: int = 0
    steps: int = 1500
    batch_size: int = 64
    learning_rate: float = 1e-3
    warmup_steps: int = 50
    cross_style_fraction: float = 0.5  # of each batch; the rest rebuilds its own window
    part_mix_fraction: float = 0.3  # of the cross-style rows: one part group keeps its own
    window_stride: int | None = None  # frames between training windows (None: the encoders')
    checkpoint_every: int = 250
    log_every: int = 20
    device: str = "auto"
    model: AdaINSize = field(default_factory=AdaINSize)
    losses: AdaINLossConfig = field(default_factory=AdaINLossConfig)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 2:
            raise ValueError(
                f"steps >= 1 and batch_size >= 2 needed, got {self.steps}/{self.batch_size}"
            )
        if self.window_stride is not None and self.window_stride < 1:
            raise ValueError(f"window_stride must be >= 1, got {self.window_stride}")
        for name in ("cross_style_fraction", "part_mix_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        AdaINConfig(**asdict(self.model))  # kernel and sizes checked before any data loads
        switches = {k: v for k, v in asdict(self.losses).items() if k.endswith("_enabled")}
        if not any(switches.values()):
            raise ValueError("every loss is switched off (losses.*_enabled): nothing to train")


def frozen_codes(encoder_run: str, device: torch.device) -> tuple[EncoderRun, EncoderCodes]:
    """The encoder run and its frozen encoders as a differentiable function of positions."""
    run = load_encoder_run(encoder_run, device)
    if run.features.retarget_bones:  # the differentiable feature twin does not retarget
        raise DiffusionDataError(
            f"{encoder_run}: encoders trained with features.retarget_bones cannot guide the "
            "AdaIN stylizer yet (its style and content losses see un-retargeted motion)"
        )
    for parameter in run.model.parameters():
        parameter.requires_grad_(False)
    return run, EncoderCodes(run.model, run.stats, run.features)


def build_net(config: TrainAdaINConfig, codes: EncoderCodes) -> AdaINStylizerNet:
    net = AdaINConfig(
        motion_dim=MOTION_DIM,
        window_frames=codes.features.window_frames,
        style_dim=codes.model.config.style_dim,
        **asdict(config.model),
    )
    return AdaINStylizerNet(net)


@dataclass
class StyleRequest:
    """One batch's rows, what each is asked for, and which rows are cross-style / part-mixed."""

    index: Tensor  # (B,) training windows
    cross: Tensor  # (B,) bool: another style's vectors
    mix: Tensor  # (B,) bool: cross rows keeping one part group of their own
    style: Tensor  # (B, Ds) target global style
    parts: Tensor  # (B, 5, Ds) target part styles


def sample_requests(
    data: DiffusionData, config: TrainAdaINConfig, gen: torch.Generator
) -> StyleRequest:
    size = config.batch_size
    index = torch.randint(0, len(data), (size,), generator=gen)
    cross = torch.arange(size) >= size - round(size * config.cross_style_fraction)
    mix = cross & (torch.rand(size, generator=gen) < config.part_mix_fraction)
    reference = torch.where(cross, _pick_references(data, index, cross, gen), index)
    parts = _mix_parts(data.parts[index], data.parts[reference], mix, gen)
    return StyleRequest(index, cross, mix, data.style[reference], parts)


def batch_losses(
    net: AdaINStylizerNet,
    data: DiffusionData,
    codes: EncoderCodes,
    config: TrainAdaINConfig,
    request: StyleRequest,
    device: torch.device,
) -> Terms:
    c, fps = config.losses, codes.features.fps
    local = data.windows[request.index].to(device)  # (B, W, J, 3)
    vectors = style_vectors(request.style, request.parts).to(device)
    positions = stylized_positions(net, data.normaliser, local, vectors)
    terms: Terms = {}
    if c.foot_enabled:
        terms["foot"] = (foot_skate_loss(positions, fps, c.contact_height_m), c.foot_weight)
    if c.bone_enabled:
        terms["bone"] = (bone_length_loss(positions, local), c.bone_weight)
    own, cross = (~request.cross).to(device), request.cross.to(device)
    if own.any():
        terms |= _reconstruction_terms(positions[own], local[own], data, c, fps)
    if cross.any():
        terms |= _cross_style_terms(positions[cross], local[cross], request, data, codes, c)
    return terms


def _reconstruction_terms(
    positions: Tensor, local: Tensor, data: DiffusionData, c: AdaINLossConfig, fps: float
) -> Terms:
    terms: Terms = {}
    if c.reconstruction_enabled:
        mse = F.mse_loss(data.normaliser.encode(positions), data.normaliser.encode(local))
        terms["reconstruction"] = (mse, c.reconstruction_weight)
    if c.velocity_enabled:
        terms["velocity"] = (velocity_loss(positions, local, fps), c.velocity_weight)
    return terms


def _cross_style_terms(
    positions: Tensor,
    local: Tensor,
    request: StyleRequest,
    data: DiffusionData,
    codes: EncoderCodes,
    c: AdaINLossConfig,
) -> Terms:
    device = positions.device
    rows = request.cross
    terms: Terms = {}
    if c.key_joint_enabled:
        deviation = key_joint_loss(positions, local, c.end_effector_share)
        terms["key_joint"] = (deviation, c.key_joint_weight)
    if not (c.style_enabled or c.part_style_enabled or c.content_enabled):
        return terms
    output = codes(positions)
    if c.style_enabled:  # part-mixed rows are scored on their parts only
        whole = (~request.mix[rows]).float().to(device)
        style = style_identity_loss(output.z_style, request.style[rows].to(device), whole)
        terms["style"] = (style, c.style_weight)
    if c.part_style_enabled:
        parts = style_identity_loss(output.z_style_parts, request.parts[rows].to(device))
        terms["part_style"] = (parts, c.part_style_weight)
    if c.content_enabled:
        source = data.content_seq[request.index[rows]].to(device)
        terms["content"] = (content_loss(output.z_content_seq, source), c.content_weight)
    return terms


def train_adain(config: TrainAdaINConfig, show_progress: bool = False) -> Path:
    """Train the AdaIN stylizer; returns the run directory (last.pt, run.json, metrics.jsonl)."""
    seed_everything(config.seed)
    device = choose_device(config.device)
    run_dir = Path(config.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    encoder_run, codes = frozen_codes(config.encoder_run, device)
    data = build_diffusion_data(
        config.data_root, codes, encoder_run.vocabulary, config.window_stride
    )
    net = build_net(config, codes).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    gen = torch.Generator().manual_seed(config.seed)
    (run_dir / "run.json").write_text(json.dumps({"config": asdict(config)}, indent=2, default=str))
    progress = progress_bar(config.steps, show_progress, "train-adain")
    started = time.perf_counter()
    net.train()
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate * min(1.0, (step + 1) / max(config.warmup_steps, 1))
        request = sample_requests(data, config, gen)
        terms = batch_losses(net, data, codes, config, request, device)
        total = sum(weight * loss for loss, weight in terms.values())
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        values = {name: float(loss.detach()) for name, (loss, _) in terms.items()}
        values["total"] = float(total.detach())
        if (step + 1) % config.log_every == 0 or step == 0 or step + 1 == config.steps:
            rate = (step + 1) * config.batch_size / (time.perf_counter() - started)
            append_metrics(run_dir, step + 1, values, rate, logger)
            if progress is not None:
                progress.set_postfix(loss=f"{values['total']:.3f}", windows_s=f"{rate:.0f}")
        if progress is not None:
            progress.update(1)
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            save_adain_checkpoint(run_dir, net, config, data, encoder_run, step + 1)
    if progress is not None:
        progress.close()
    return run_dir
