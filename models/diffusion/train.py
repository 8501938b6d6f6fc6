"""Two-stage training of the stylization diffusion model, the encoders frozen throughout.

Owns `TrainDiffusionConfig` and `train_diffusion(config) -> run_dir`. Stage "base" trains the
denoiser to rebuild a window from its content sequence `z_c` and, with `trajectory_condition`,
the window's root trajectory (diffusion, velocity, foot, bone losses).
Stage "adaptor" loads a base run, freezes it and trains only the style adaptor (LoRA + style
cross-attention): half of each batch rebuilds its source with the style of another window of
the same style (diffusion loss applies), the other half gets a different style and is scored by
the frozen encoders (style identity, per-part style, content) plus the foot, bone and key-joint
losses; some of those mix styles per body part (arms from the target, legs from the source, or
the reverse), so per-part control is trained; a share of conditions is dropped for
classifier-free guidance; with `losses.discriminator_enabled` a style-conditional
discriminator (`models.diffusion.motion_discriminator`) adds an adversarial term on the cross-style
outputs. Losses are scored on the one-step x0 prediction, weighted by `sqrt(alpha_bar_t)` for
the encoder losses (a very noisy step predicts little). With `source_control` the adaptor stage
also trains a ControlNet-like branch that reads the source window itself (zero-initialised
injection, `models.diffusion.denoiser.SourceControl`). With `latent_vae` (a `train-vae`
run) the base diffuses in the VAE's latent sequence (`models.diffusion.motion_vae.LatentSpace`): the
diffusion loss is taken on latents, the geometric and encoder losses on the decoded motion.
The scene fine-tune (`scene_run`) plugs in as the caller's `scene_fusion` (a `ConditionFusion`
factory), so the diffusion stage imports nothing of the scene encoder.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor

from models.common.training import choose_device, seed_everything
from models.common.training_log import append_metrics, progress_bar
from models.diffusion.checkpoint import load_run_checkpoint, save_run_checkpoint
from models.diffusion.data import (
    DiffusionData,
    DiffusionDataError,
    EncoderCodes,
    build_diffusion_data,
    style_vectors,
)
from models.diffusion.denoiser import DenoiserConfig, MotionDenoiser, with_source_control
from models.diffusion.losses import (
    DiffusionLossConfig,
    bone_length_loss,
    condition_orthogonality_loss,
    content_loss,
    diffusion_loss,
    foot_skate_loss,
    key_joint_loss,
    style_identity_loss,
    velocity_loss,
)
from models.diffusion.motion_discriminator import (
    MotionDiscriminator,
    discriminator_loss,
    generator_loss,
)
from models.diffusion.motion_repr import MOTION_DIM, condition_channels, trajectory_condition
from models.diffusion.schedule import NoiseSchedule
from models.encoders.run import load_encoder_run

logger = logging.getLogger(__name__)

STAGES = ("base", "adaptor")
PART_GROUPS = ((1, 2), (3, 4))  # arms (left, right), legs (left, right) in BODY_PART_NAMES order


@dataclass(frozen=True)
class DenoiserSize:
    d_model: int = 128
    num_layers: int = 4
    num_heads: int = 4
    dropout: float = 0.1
    lora_rank: int = 8
    lora_alpha: float = 8.0
    skip_connection: bool = False  # tried: jittery samples after 2,500 steps (docs)


@dataclass(frozen=True)
class TrainDiffusionConfig:
    data_root: str
    encoder_run: str
    out: str
    stage: str = "base"
    base_run: str | None = None
    seed: int = 0
    steps: int = 2000
    batch_size: int = 64
    learning_rate: float = 3e-4
    warmup_steps: int = 100
    condition_dropout: float = 0.1
    cross_style_fraction: float = 0.5
    part_mix_fraction: float = 0.3
    scene_run: str | None = None  # adaptor fine-tune with scene-fused conditions (issue 8)
    scene_fraction: float = 0.3  # of the cross-style samples, when scene_run is set
    latent_vae: str | None = None  # a train-vae run: diffuse in its latent (base stage)
    window_stride: int | None = None  # frames between training windows (None: the encoders')
    trajectory_condition: bool = True  # the source's root trajectory conditions the base
    # with the trajectory, the source's arm-gesture rhythm
    # (`models.diffusion.motion_repr.rhythm_channels`)
    rhythm_condition: bool = False
    # adaptor stage: a ControlNet-like branch over the source window itself (issue 17; on by
    # default; the base stage has no branch and ignores it)
    source_control: bool = True
    diffusion_steps: int = 1000
    checkpoint_every: int = 200
    log_every: int = 20
    device: str = "auto"
    model: DenoiserSize = field(default_factory=DenoiserSize)
    losses: DiffusionLossConfig = field(default_factory=DiffusionLossConfig)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if self.stage == "adaptor" and not self.base_run:
            raise ValueError("the adaptor stage needs base_run (a finished base run directory)")
        if self.rhythm_condition and not self.trajectory_condition:
            raise ValueError("rhythm_condition rides on the trajectory condition: keep it on")
        if self.steps < 1 or self.batch_size < 2:
            raise ValueError(
                f"steps >= 1 and batch_size >= 2 needed, got {self.steps}/{self.batch_size}"
            )
        if self.window_stride is not None and self.window_stride < 1:
            raise ValueError(f"window_stride must be >= 1, got {self.window_stride}")
        if self.scene_run and self.stage != "adaptor":
            raise ValueError("scene_run fine-tunes an adaptor: use stage=adaptor")
        fractions = ("condition_dropout", "cross_style_fraction", "part_mix_fraction")
        for name in (*fractions, "scene_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


@dataclass
class Batch:
    local: Tensor  # (B, W, J, 3)
    x0: Tensor  # (B, W, D)
    content_seq: Tensor  # (B, S, Dc)
    t: Tensor  # (B,)
    x_t: Tensor  # (B, W, D)
    trajectory: Tensor | None = None  # (B, W, C) root trajectory condition, if the model has one
    generated: tuple[Tensor, Tensor, Tensor] | None = None  # x0 pred, asked style, cross mask


class ConditionFusion(Protocol):
    """Rewrites the conditions of chosen adaptor samples (the scene fine-tune plugs in here)."""

    def fuse(
        self,
        vectors: Tensor,
        target_style: Tensor,
        batch: Batch,
        index: Tensor,
        chosen: Tensor,
        gen: torch.Generator,
    ) -> tuple[Tensor, Tensor]: ...  # vectors (B, 6, Ds), style targets (B, Ds)


# (scene_run, data, encoder checksum, device) -> the fusion; the caller (flows/) hands in
# `models.scene.finetune.SceneFusionTargets`, so diffusion never imports the scene wing.
FusionFactory = Callable[[str, DiffusionData, str, torch.device], ConditionFusion]


def _sample_batch(
    data: DiffusionData, schedule: NoiseSchedule, size: int, device, gen, model
) -> tuple[Tensor, Batch]:
    index = torch.randint(0, len(data), (size,), generator=gen)
    local = data.windows[index].to(device)
    x0 = data.space.encode(local)
    t = torch.randint(0, schedule.num_steps, (size,), generator=gen).to(device)
    noise = torch.randn(x0.shape, generator=gen).to(device)
    trajectory = None
    if model.config.trajectory_dim:
        trajectory = trajectory_condition(
            local, data.space.frame_factor, rhythm=model.config.rhythm_condition
        )
    content = data.content_seq[index].to(device)
    return index, Batch(local, x0, content, t, schedule.q_sample(x0, t, noise), trajectory)


def _pick_references(data: DiffusionData, index: Tensor, cross: Tensor, gen) -> Tensor:
    """A reference window per sample: same style, or another style where `cross` is set."""
    labels = data.style_labels
    references = torch.empty_like(index)
    for row, (i, other) in enumerate(zip(index.tolist(), cross.tolist(), strict=True)):
        same = labels == labels[i]
        pool = torch.nonzero(~same if other else same).flatten()
        if len(pool) == 0:
            pool = torch.nonzero(same).flatten()
        references[row] = pool[torch.randint(0, len(pool), (1,), generator=gen)]
    return references


def _mix_parts(own: Tensor, target: Tensor, mix: Tensor, gen) -> Tensor:
    """Target part styles `(B, 5, Ds)` where rows in `mix` keep one part group of their own."""
    mixed = target.clone()
    for row in torch.nonzero(mix).flatten().tolist():
        group = PART_GROUPS[int(torch.randint(0, len(PART_GROUPS), (1,), generator=gen))]
        mixed[row, list(group)] = own[row, list(group)]
    return mixed


def _geometry_terms(
    positions: Tensor, batch: Batch, config: TrainDiffusionConfig, fps: float
) -> dict[str, tuple[Tensor, float]]:
    c = config.losses
    terms: dict[str, tuple[Tensor, float]] = {}
    if c.foot_enabled:
        terms["foot"] = (foot_skate_loss(positions, fps, c.contact_height_m), c.foot_weight)
    if c.bone_enabled:
        terms["bone"] = (bone_length_loss(positions, batch.local), c.bone_weight)
    return terms


def base_losses(
    model, data, schedule, batch: Batch, config, codes
) -> dict[str, tuple[Tensor, float]]:
    prediction = model(batch.x_t, batch.t, batch.content_seq, trajectory=batch.trajectory)
    positions = data.space.decode(prediction)
    terms = _geometry_terms(positions, batch, config, codes.features.fps)
    if config.losses.velocity_enabled:
        velocity = velocity_loss(positions, batch.local, codes.features.fps)
        terms["velocity"] = (velocity, config.losses.velocity_weight)
    if config.losses.diffusion_enabled:
        terms["diffusion"] = (diffusion_loss(prediction, batch.x0), config.losses.diffusion_weight)
    return terms


def adaptor_losses(
    model,
    data,
    schedule,
    batch: Batch,
    config,
    codes,
    index,
    gen,
    scenes: ConditionFusion | None = None,
) -> dict[str, tuple[Tensor, float]]:
    c, size = config.losses, len(index)
    cross = torch.rand(size, generator=gen) < config.cross_style_fraction
    keep = torch.rand(size, generator=gen) >= config.condition_dropout
    mix = cross & (torch.rand(size, generator=gen) < config.part_mix_fraction)
    ref = _pick_references(data, index, cross, gen)
    target_parts = _mix_parts(data.parts[index], data.parts[ref], mix, gen)
    target_style = data.style[ref]
    vectors = style_vectors(target_style, target_parts).to(batch.x0.device)
    scened = torch.zeros(size, dtype=torch.bool)
    if scenes is not None:
        scened = cross & ~mix & (torch.rand(size, generator=gen) < config.scene_fraction)
        vectors, target_style = scenes.fuse(vectors, target_style, batch, index, scened, gen)
    keep_device = keep.to(batch.x0.device)
    source = batch.x0 if model.config.source_control else None
    prediction = model(
        batch.x_t,
        batch.t,
        batch.content_seq,
        vectors,
        keep_device,
        trajectory=batch.trajectory,
        source=source,
    )
    batch.generated = (prediction, target_style.to(batch.x0.device), (cross & keep).float())
    positions = data.space.decode(prediction)
    terms = _geometry_terms(positions, batch, config, codes.features.fps)
    device = batch.x0.device
    recon = (~cross | ~keep).to(device)
    if c.diffusion_enabled:
        terms["diffusion"] = (
            diffusion_loss(prediction, batch.x0, recon.float()),
            c.diffusion_weight,
        )
    if c.velocity_enabled and recon.any():
        velocity = velocity_loss(positions[recon], batch.local[recon], codes.features.fps)
        terms["velocity"] = (velocity, c.velocity_weight)
    signal = schedule.alphas_cumprod.to(device)[batch.t].sqrt()  # (B,)
    scored = keep.float().to(device) * signal
    output = codes(positions)
    if c.style_enabled:
        weight = scored * (~mix).float().to(device)  # scene samples: the global style only
        terms["style"] = (
            style_identity_loss(output.z_style, target_style.to(device), weight),
            c.style_weight,
        )
    if c.part_style_enabled:
        part_weight = scored * (~scened).float().to(device)
        terms["part_style"] = (
            style_identity_loss(output.z_style_parts, target_parts.to(device), part_weight),
            c.part_style_weight,
        )
    if c.content_enabled:
        terms["content"] = (content_loss(output.z_content_seq, batch.content_seq), c.content_weight)
    if c.key_joint_enabled:
        terms["key_joint"] = (
            key_joint_loss(positions, batch.local, c.end_effector_share),
            c.key_joint_weight,
        )
    if c.condition_orthogonality_enabled:
        pooled = model.content_condition(batch.content_seq).mean(dim=1)  # (B, D)
        style_condition = model.adaptor_style_projection(vectors[:, 0])  # (B, D)
        terms["condition_orthogonality"] = (
            condition_orthogonality_loss(pooled, style_condition),
            c.condition_orthogonality_weight,
        )
    return terms


def _build_model(config: TrainDiffusionConfig, codes: EncoderCodes, data) -> MotionDenoiser:
    encoder = codes.model.config
    factor = data.space.frame_factor  # motion frames per model frame (VAE downsampling)
    if encoder.content_stride % factor:
        raise ValueError(
            f"the VAE downsamples time by {factor}, which does not divide the encoders' content "
            f"stride {encoder.content_stride}: train the VAE with a downsample dividing it"
        )
    latent = data.latent_vae.space.vae.config if data.latent_vae is not None else None
    denoiser = DenoiserConfig(
        motion_dim=latent.latent_dim if latent else MOTION_DIM,
        window_frames=codes.features.window_frames // factor,
        content_dim=encoder.content_dim,
        content_stride=encoder.content_stride // factor,
        style_dim=encoder.style_dim,
        trajectory_dim=(
            condition_channels(config.rhythm_condition) * factor
            if config.trajectory_condition
            else 0
        ),
        rhythm_condition=config.rhythm_condition,
        diffusion_steps=config.diffusion_steps,
        **asdict(config.model),
    )
    return MotionDenoiser(denoiser)


def _use_latent_vae(config: TrainDiffusionConfig, data, features, device) -> None:
    """Latent mode: the VAE's space (and its normaliser) replace the data space."""
    from models.diffusion.vae_run import load_vae_run

    vae = load_vae_run(config.latent_vae, device)
    frames = vae.space.vae.config.window_frames
    if frames != features.window_frames:
        raise ValueError(
            f"{config.latent_vae}: VAE of {frames}-frame windows, the encoders use "
            f"{features.window_frames}"
        )
    data.latent_vae, data.normaliser = vae, vae.space.normaliser


def _check_latent_request(config: TrainDiffusionConfig, base) -> None:
    """The adaptor inherits the base's space; a different VAE asked for is an error."""
    if not config.latent_vae:
        return
    asked = Path(config.latent_vae).resolve()
    if base.latent_vae is None or Path(base.latent_vae.path).resolve() != asked:
        raise ValueError(
            f"latent_vae {config.latent_vae} differs from the base run's "
            f"({base.latent_vae.path if base.latent_vae else 'data space'}): the adaptor "
            "stage inherits the base's space"
        )


class Adversary:
    """The optional discriminator and its optimiser (adaptor stage, `losses.discriminator`)."""

    def __init__(self, config: TrainDiffusionConfig, model: MotionDenoiser, device) -> None:
        c = model.config
        self.network = MotionDiscriminator(c.motion_dim, c.style_dim).to(device)
        self.optimizer = torch.optim.Adam(
            self.network.parameters(),
            lr=config.losses.discriminator_learning_rate,
            betas=(0.5, 0.9),
        )

    def generator_term(self, batch: Batch) -> Tensor:
        prediction, style, fake = batch.generated
        return generator_loss(self.network(prediction, style), fake.to(prediction.device))

    def update(self, batch: Batch, real_style: Tensor) -> float:
        prediction, style, fake = batch.generated
        chosen = fake.bool()
        if not chosen.any():
            return 0.0
        real_logits = self.network(batch.x0, real_style)
        fake_logits = self.network(prediction.detach()[chosen], style[chosen])
        loss = discriminator_loss(real_logits, fake_logits)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())


def _prepare(config: TrainDiffusionConfig, device: torch.device):
    encoder_run = load_encoder_run(config.encoder_run, device)
    if encoder_run.features.retarget_bones:  # the differentiable feature twin does not retarget
        raise DiffusionDataError(
            f"{config.encoder_run}: encoders trained with features.retarget_bones cannot guide "
            "the diffusion yet (its style and content losses see un-retargeted motion)"
        )
    codes = EncoderCodes(encoder_run.model, encoder_run.stats, encoder_run.features)
    for parameter in codes.model.parameters():
        parameter.requires_grad_(False)
    data = build_diffusion_data(
        config.data_root, codes, encoder_run.vocabulary, config.window_stride
    )
    if config.stage == "base":
        if config.latent_vae:
            _use_latent_vae(config, data, encoder_run.features, device)
        model = _build_model(config, codes, data)
    else:
        base = load_run_checkpoint(Path(config.base_run), device)
        if base.encoder_checksum != encoder_run.checksum:
            raise ValueError(
                f"{config.base_run} was trained with another encoder run than {config.encoder_run}"
            )
        model = with_source_control(base.model) if config.source_control else base.model
        data.normaliser, data.latent_vae = base.normaliser, base.latent_vae
        _check_latent_request(config, base)
        if config.rhythm_condition and not model.config.rhythm_condition:
            raise ValueError(
                f"rhythm_condition asked, but the base run {config.base_run} was trained without "
                "it: the adaptor stage inherits the base's conditions"
            )
        model.set_adaptor(True)
        for parameter in model.base_parameters():
            parameter.requires_grad_(False)
    return encoder_run, codes, data, model.to(device)


def train_diffusion(
    config: TrainDiffusionConfig,
    show_progress: bool = False,
    scene_fusion: FusionFactory | None = None,
) -> Path:
    """Train one stage; returns the run directory (last.pt, run.json, metrics.jsonl).

    `scene_fusion` builds the scene-fused conditions of `config.scene_run` (needed then only).
    """
    if config.scene_run and scene_fusion is None:
        raise ValueError(
            "scene_run is set but no scene_fusion was given "
            "(pass models.scene.finetune.SceneFusionTargets)"
        )
    seed_everything(config.seed)
    device = choose_device(config.device)
    run_dir = Path(config.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    encoder_run, codes, data, model = _prepare(config, device)
    trainable = model.base_parameters() if config.stage == "base" else model.adaptor_parameters()
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=0.0)
    schedule = NoiseSchedule(config.diffusion_steps)
    gen = torch.Generator().manual_seed(config.seed)
    (run_dir / "run.json").write_text(json.dumps({"config": asdict(config)}, indent=2, default=str))
    scenes = None
    if config.scene_run:
        scenes = scene_fusion(config.scene_run, data, encoder_run.checksum, device)
    adversary = None
    if config.stage == "adaptor" and config.losses.discriminator_enabled:
        adversary = Adversary(config, model, device)
    progress = progress_bar(config.steps, show_progress, "train-diffusion")
    started = time.perf_counter()
    model.train()
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate * min(1.0, (step + 1) / config.warmup_steps)
        index, batch = _sample_batch(data, schedule, config.batch_size, device, gen, model)
        if config.stage == "base":
            terms = base_losses(model, data, schedule, batch, config, codes)
        else:
            terms = adaptor_losses(model, data, schedule, batch, config, codes, index, gen, scenes)
            if adversary is not None:
                weight = config.losses.discriminator_weight
                terms["adversarial"] = (adversary.generator_term(batch), weight)
        total = sum(weight * loss for loss, weight in terms.values())
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        values = {name: float(loss.detach()) for name, (loss, _) in terms.items()}
        if adversary is not None:
            values["discriminator"] = adversary.update(batch, data.style[index].to(device))
        values["total"] = float(total.detach())
        if (step + 1) % config.log_every == 0 or step == 0 or step + 1 == config.steps:
            rate = (step + 1) * config.batch_size / (time.perf_counter() - started)
            append_metrics(run_dir, step + 1, values, rate, logger)
            if progress is not None:
                progress.set_postfix(loss=f"{values['total']:.3f}", windows_s=f"{rate:.0f}")
        if progress is not None:
            progress.update(1)
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            save_run_checkpoint(run_dir, model, config, data, encoder_run, step + 1)
    if progress is not None:
        progress.close()
    return run_dir
