"""Training the contrastive content/style encoders: the loop, its checkpoints, resume.

Owns `stylemotion train-encoders`. `train_encoders(config) -> run_dir` is a plain function (the
Prefect flow of the orchestration issue calls it as is): it loads clips from shards, keeps the
training split (`models.encoders.windows.split_of`), computes feature statistics on the training
windows, samples style-balanced batches of augmented windows and optimises the switchable
losses of `models.encoders.contrastive_losses`. CPU by default, CUDA with mixed precision when
present, DDP when started by `torchrun` (WORLD_SIZE > 1). Every `checkpoint_every` steps `last.pt`
holds the model with its config, the optimiser, the step and the RNG states, so a killed run
resumes where it stopped. TensorBoard logs go to `RUN/tensorboard`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from models.common.training import choose_device, seed_everything
from models.encoders.content_erasure import fit_content_eraser
from models.encoders.contrastive_losses import (
    coarse_groups,
    encoder_losses,
    style_prototypes,
)
from models.encoders.encoder import (
    CheckpointError,
    EncoderConfig,
    MotionEncoder,
    load_encoder,
    save_checkpoint,
)
from models.encoders.features import descriptor_size, token_sizes
from models.encoders.run import CHECKPOINT_NAME, RUN_FORMAT
from models.encoders.train_config import TrainEncodersConfig
from models.encoders.training_data import TrainingData, TrainingDataError, build_training_data
from models.encoders.windows import split_note
from storage.filesystem import absolute_uri

logger = logging.getLogger(__name__)


def build_model(config: TrainEncodersConfig) -> MotionEncoder:
    encoder_config = EncoderConfig(
        token_sizes=token_sizes(config.features),
        descriptor_size=descriptor_size(config.features),
        use_descriptors=config.features.use_frequency_features,
        max_frames=max(256, config.features.window_frames),
        **asdict(config.model),
    )
    return MotionEncoder(encoder_config)


def learning_rate_at(step: int, config: TrainEncodersConfig) -> float:
    """Linear warm-up then cosine decay to 10 % of the peak."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


@dataclass
class TrainState:
    model: MotionEncoder  # the bare model: saved, embedded, resumed
    optimizer: torch.optim.Optimizer
    network: torch.nn.Module | None = (
        None  # what the forward pass runs (DDP-wrapped under torchrun)
    )
    step: int = 0
    coarse_of_fine: torch.Tensor | None = None


@dataclass(frozen=True)
class Distributed:
    """This process's place in a `torchrun` job (rank 0 of 1 without one)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device_name: str) -> tuple[Distributed, torch.device]:
    """Join the process group when started by torchrun; the device this rank trains on."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed(), choose_device(device_name)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device_name in ("auto", "cuda")
    torch.distributed.init_process_group(backend="nccl" if use_cuda else "gloo")
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    return Distributed(torch.distributed.get_rank(), world_size, local_rank), device


def _checkpoint_extra(config: TrainEncodersConfig, data: TrainingData, state: TrainState) -> dict:
    return {
        "run_format": RUN_FORMAT,
        "train_config": json.loads(json.dumps(asdict(config), default=str)),
        "vocabulary": data.vocabulary.to_dict(),
        "feature_stats": data.stats.to_dict(),
        "step": state.step,
        "optimizer": state.optimizer.state_dict(),
        "coarse_of_fine": state.coarse_of_fine,
        "rng": {
            "torch": torch.get_rng_state(),
            "numpy": np.random.get_state(),
            "python": random.getstate(),
        },
    }


def _resume(run_dir: Path, state: TrainState) -> None:
    path = run_dir / CHECKPOINT_NAME
    if not path.exists():
        return
    model, extra = load_encoder(path, map_location="cpu")
    if model.config != state.model.config:
        saved, asked = asdict(model.config), asdict(state.model.config)
        changed = sorted(key for key in saved if saved[key] != asked[key])
        raise CheckpointError(
            f"{path}: the run was trained with another model config ({', '.join(changed)} "
            "differ): resume it with its own settings or train into a new directory"
        )
    state.model.load_state_dict(model.state_dict())
    state.optimizer.load_state_dict(extra["optimizer"])
    state.step = int(extra["step"])
    state.coarse_of_fine = extra.get("coarse_of_fine")
    torch.set_rng_state(extra["rng"]["torch"])
    np.random.set_state(extra["rng"]["numpy"])
    random.setstate(extra["rng"]["python"])
    logger.info("resumed %s at step %d", path, state.step)


def _refresh_coarse_groups(
    state: TrainState, data: TrainingData, config: TrainEncodersConfig, device: torch.device
) -> None:
    """k-means over the current style prototypes (a pass over a sample of training windows)."""
    embeddings, labels = data.embed_sample(state.model, device)
    prototypes = style_prototypes(embeddings, labels, len(data.vocabulary.styles))
    groups = min(config.coarse_groups, len(data.vocabulary.styles))
    state.coarse_of_fine = coarse_groups(prototypes, groups, iterations=20, seed=config.seed).to(
        device
    )


def _train_step(
    state: TrainState, batch, config: TrainEncodersConfig, device: torch.device
) -> dict[str, float]:
    for group in state.optimizer.param_groups:
        group["lr"] = learning_rate_at(state.step, config)
    autocast = torch.autocast(device.type, enabled=device.type == "cuda")
    with autocast:
        output = (state.network or state.model)(batch.tokens, batch.descriptors)
        losses = encoder_losses(
            output, batch.style, batch.content, state.coarse_of_fine, config.losses
        )
    state.optimizer.zero_grad(set_to_none=True)
    losses["total"].backward()
    torch.nn.utils.clip_grad_norm_(state.model.parameters(), 1.0)
    state.optimizer.step()
    state.step += 1
    return {name: float(value.detach()) for name, value in losses.items()}


def _log(
    writer: SummaryWriter, run_dir: Path, values: dict[str, float], step: int, rate: float
) -> None:
    """TensorBoard scalars plus one JSON line per log step in RUN/metrics.jsonl."""
    for name, value in values.items():
        writer.add_scalar(f"loss/{name}", value, step)
    writer.add_scalar("throughput/windows_per_s", rate, step)
    line = {"step": step, "windows_per_s": round(rate, 1)} | {
        k: round(v, 5) for k, v in values.items()
    }
    with (run_dir / "metrics.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def _start(config: TrainEncodersConfig, run_dir: Path, dist: Distributed, device: torch.device):
    """Data, model, optimiser and (resumed) state of a run on this rank."""
    data = build_training_data(config, dist.rank, dist.world_size)
    if dist.is_main:
        description = data.describe() | {"config": asdict(config), "world_size": dist.world_size}
        description["split"] = split_note(config.data_root)
        (run_dir / "run.json").write_text(json.dumps(description, indent=2, default=str))
    model = build_model(config).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    state = TrainState(model, optimizer)
    _resume(run_dir, state)
    if dist.world_size > 1:
        device_ids = [device.index] if device.type == "cuda" else None
        state.network = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    return data, state


def train_encoders(config: TrainEncodersConfig, show_progress: bool = False) -> Path:
    """Train (or resume) a run in `config.out`; returns the run directory.

    Under `torchrun` every rank trains on its own share of the batches (DDP); rank 0 alone
    writes logs and checkpoints.
    """
    if config.steps < 1:
        raise TrainingDataError(f"steps {config.steps}: a run needs at least one step")
    config = replace(config, data_root=absolute_uri(config.data_root))  # run cards say where
    run_dir = Path(config.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)
    dist, device = setup_distributed(config.device)
    data, state = _start(config, run_dir, dist, device)
    writer = SummaryWriter(str(run_dir / "tensorboard")) if dist.is_main else None
    batches = data.batches(start_step=state.step)
    progress = tqdm(
        total=config.steps,
        initial=state.step,
        desc="train-encoders",
        disable=not (show_progress and dist.is_main),
    )
    started, windows_seen = time.perf_counter(), 0
    while state.step < config.steps:
        if state.coarse_of_fine is None or state.step % config.coarse_refresh_every == 0:
            _refresh_coarse_groups(state, data, config, device)
        batch = next(batches).to(device)
        values = _train_step(state, batch, config, device)
        windows_seen += batch.style.shape[0] * dist.world_size
        rate = windows_seen / max(time.perf_counter() - started, 1e-9)
        progress.set_postfix(loss=f"{values['total']:.3f}", windows_s=f"{rate:.0f}", refresh=False)
        progress.update(1)
        if writer is not None:
            _after_step(writer, run_dir, values, rate, config, data, state)
    progress.close()
    if dist.is_main and config.erase_style_from_content:
        _fit_eraser(run_dir, config, data, state, device)
    if writer is not None:
        writer.close()
    if dist.world_size > 1:
        torch.distributed.destroy_process_group()
    return run_dir


def _fit_eraser(
    run_dir: Path,
    config: TrainEncodersConfig,
    data: TrainingData,
    state: TrainState,
    device: torch.device,
) -> None:
    """Fit the style eraser of `z_c` once the run is complete (models.encoders.content_erasure)."""
    path = run_dir / CHECKPOINT_NAME
    if state.model.heads["content"].style_eraser.fitted:
        return
    note = fit_content_eraser(state.model, data.plain, data.index.styles, device)
    logger.info("style eraser of z_c: %s", note)
    save_checkpoint(
        path, state.model, _checkpoint_extra(config, data, state) | {"content_eraser": note}
    )
    card = run_dir / "run.json"
    if card.is_file():
        description = json.loads(card.read_text(encoding="utf-8"))
        card.write_text(json.dumps(description | {"content_eraser": note}, indent=2, default=str))


def _after_step(
    writer: SummaryWriter,
    run_dir: Path,
    values: dict[str, float],
    rate: float,
    config: TrainEncodersConfig,
    data: TrainingData,
    state: TrainState,
) -> None:
    """Rank 0's logging and checkpointing after a step."""
    if state.step % config.log_every == 0:
        _log(writer, run_dir, values, state.step, rate)
    if state.step % config.checkpoint_every == 0 or state.step == config.steps:
        extra = _checkpoint_extra(config, data, state)
        save_checkpoint(run_dir / CHECKPOINT_NAME, state.model, extra)
