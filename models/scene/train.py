"""Training the scene encoder with the motion encoders frozen: config, pairing, loop, run.

Owns `stylemotion train-scene-encoder`: `train_scene_encoder(config, embeddings) -> run_dir`, a
plain function the Prefect flow wraps. The frozen encoder run encodes every window once
(`models.scene.data`), so a step only runs the small `SceneHead`. Pairing (why the scene must
supply the shift): a batch draws `windows_per_scene` *target* windows from each of up to
`scenes_per_batch` scenes; each target gets a *reference* window whose style is NOT associated
with that scene, of the same content when one exists. The head sees the reference's motion and
the target's scene input; the fused `normalize(z_s(ref) + alpha * z_scene)` must match the
targets of the same scene (`models.scene.losses`), with `alpha ~ U(alpha_min, alpha_max)` per
sample. Only the `train` split trains; val/test stay for `models.scene.evaluate`. The run directory
holds `scene.pt` (written at the end; a re-run of a finished run returns at once, an
unfinished one restarts: training takes seconds to minutes), `metrics.jsonl` and `run.json`.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from models.encoders.run import load_encoder_run
from models.scene.data import (
    CONTROLLED,
    CONTROLLED_SCENE_STYLES,
    SceneDataError,
    SceneEmbeddings,
    SceneWindows,
    build_controlled_scene_windows,
    build_video_scene_windows,
    fixed_label_embeddings,
)
from models.scene.encoder import (
    SCENE_CHECKPOINT_NAME,
    SceneCheckpoint,
    SceneHead,
    SceneHeadConfig,
    load_scene_checkpoint,
    save_scene_checkpoint,
)
from models.scene.losses import SceneLossConfig, scene_losses

logger = logging.getLogger(__name__)

SOURCES = ("controlled", "video")


@dataclass(frozen=True)
class SceneHeadSize:
    hidden: int = 128
    fusion: str = "additive"  # or "concat" (the "independent" design)
    use_motion: bool = True


@dataclass(frozen=True)
class TrainSceneConfig:
    """Everything a scene-encoder run depends on; saved in the run and the checkpoint."""

    data_root: str
    encoder_run: str
    out: str
    source: str = "controlled"  # "controlled" (Bandai construction) or "video" (scenes table)
    labeller_id: str | None = None  # which labeller's scenes (source "video")
    seed: int = 0
    steps: int = 400
    scenes_per_batch: int = 6
    windows_per_scene: int = 8
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    alpha_min: float = 0.5
    alpha_max: float = 1.5
    log_every: int = 10
    head: SceneHeadSize = field(default_factory=SceneHeadSize)
    losses: SceneLossConfig = field(default_factory=SceneLossConfig)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.source == "video" and not self.labeller_id:
            raise ValueError("source 'video' needs labeller_id (see `stylemotion label-scenes`)")
        if not 0.0 <= self.alpha_min <= self.alpha_max:
            raise ValueError(f"need 0 <= alpha_min <= alpha_max, got {self.alpha_min}..")
        if min(self.steps, self.scenes_per_batch, self.windows_per_scene) < 1:
            raise ValueError("steps, scenes_per_batch and windows_per_scene must be >= 1")


class PairSampler:
    """Draws (reference, target) window pairs from the train split (see module doc)."""

    def __init__(self, data: SceneWindows, config: TrainSceneConfig, seed: int) -> None:
        self.data, self.config = data, config
        self.generator = torch.Generator().manual_seed(seed)
        train = set(data.where(("train",)).tolist())
        styles_of = data.scene_styles()
        self.targets, self.refs = {}, {}
        for v in range(len(data.scenes)):
            targets = [i for i in train if int(data.scene[i]) == v]
            refs = [i for i in train if int(data.style[i]) not in styles_of[v]]
            if targets and refs:
                self.targets[v] = torch.tensor(sorted(targets))
                self.refs[v] = _by_content(data, sorted(refs))
        if len(self.targets) < 2:
            raise SceneDataError(
                f"{len(self.targets)} scene(s) with training windows and references; the "
                "contrastive loss needs at least 2"
            )

    def _pick(self, pool: Tensor, count: int) -> Tensor:
        return pool[torch.randint(len(pool), (count,), generator=self.generator)]

    def sample(self) -> tuple[Tensor, Tensor, Tensor]:
        """(reference, target, alpha) `(B,)` each."""
        scenes = list(self.targets)
        order = torch.randperm(len(scenes), generator=self.generator).tolist()
        chosen = [scenes[i] for i in order[: self.config.scenes_per_batch]]
        refs, targets = [], []
        for v in chosen:
            picked = self._pick(self.targets[v], self.config.windows_per_scene)
            targets.append(picked)
            for target in picked.tolist():
                by_content = self.refs[v]
                pool = by_content.get(int(self.data.content[target]), by_content[None])
                refs.append(self._pick(pool, 1))
        low, high = self.config.alpha_min, self.config.alpha_max
        alpha = low + (high - low) * torch.rand(len(refs), generator=self.generator)
        return torch.cat(refs), torch.cat(targets), alpha


def _by_content(data: SceneWindows, indices: list[int]) -> dict:
    """Reference pools keyed by content index (None: every reference)."""
    pools: dict = {None: torch.tensor(indices)}
    for content in {int(data.content[i]) for i in indices} - {-1}:
        pools[content] = torch.tensor([i for i in indices if int(data.content[i]) == content])
    return pools


def build_head(data: SceneWindows, config: TrainSceneConfig) -> SceneHead:
    head_config = SceneHeadConfig(
        d_model=data.pooled.shape[1] // 12, style_dim=data.z_style.shape[1],
        embedding_dim=data.embedding.shape[1], num_scenes=len(data.scenes),
        **asdict(config.head),
    )  # fmt: skip
    return SceneHead(head_config)


def step_losses(head: SceneHead, data: SceneWindows, refs, targets, alpha, config) -> dict:
    """The losses of one batch of (reference, target) pairs."""
    z_scene = head.forward_pooled(data.pooled[refs], data.embedding[targets])  # (B, Ds)
    fused = head.fuse(data.z_style[refs], z_scene, alpha)  # (B, Ds)
    return scene_losses(
        fused, data.z_style[targets], data.scene[targets], head.classify(z_scene), z_scene,
        data.z_content[refs], config.losses,
    )  # fmt: skip


def load_scene_data(config: TrainSceneConfig, run, embeddings: SceneEmbeddings | None):
    """The encoded windows and the scene vocabulary's embeddings for `config.source`."""
    if config.source == "video":
        data = build_video_scene_windows(run, config.data_root, config.labeller_id)
        means = [data.embedding[data.scene == v].mean(0) for v in range(len(data.scenes))]
        vectors = torch.nn.functional.normalize(torch.stack(means), dim=-1).numpy()
        source = f"clip-image-mean:{config.labeller_id}"
        return data, SceneEmbeddings(data.scenes, vectors, source)
    embeddings = embeddings or fixed_label_embeddings(tuple(CONTROLLED_SCENE_STYLES))
    data = build_controlled_scene_windows(run, config.data_root, embeddings)
    names = data.scenes
    vectors = np.stack([embeddings.vector(name) for name in names])
    return data, SceneEmbeddings(names, vectors, embeddings.source)


def train_scene_encoder(
    config: TrainSceneConfig, embeddings: SceneEmbeddings | None = None
) -> Path:
    """Train the scene head of `config` (see module doc); returns the run directory."""
    run_dir = Path(config.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    encoder = load_encoder_run(config.encoder_run)
    path = run_dir / SCENE_CHECKPOINT_NAME
    if path.is_file() and load_scene_checkpoint(path, encoder.checksum).step >= config.steps:
        logger.info("%s already finished", path)
        return run_dir
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    data, vocabulary = load_scene_data(config, encoder, embeddings)
    _write_run_card(run_dir, config, data, vocabulary)
    head = build_head(data, config)
    optimizer = torch.optim.AdamW(
        head.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    sampler = PairSampler(data, config, config.seed)
    (run_dir / "metrics.jsonl").write_text("")
    for step in range(1, config.steps + 1):
        losses = step_losses(head.train(), data, *sampler.sample(), config)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        optimizer.step()
        if step % config.log_every == 0 or step == 1:
            _log(run_dir, step, losses)
    checkpoint = SceneCheckpoint(
        head=head.eval(), scenes=vocabulary.names, embeddings=torch.as_tensor(vocabulary.vectors),
        embedding_source=vocabulary.source, associations=data.associations,
        provenance=data.provenance, encoder_run=str(Path(config.encoder_run).resolve()),
        encoder_checksum=encoder.checksum, step=config.steps,
        train_config=json.loads(json.dumps(asdict(config))),
    )  # fmt: skip
    save_scene_checkpoint(path, checkpoint)
    return run_dir


def _log(run_dir: Path, step: int, losses: dict[str, Tensor]) -> None:
    line = {"step": step} | {k: round(float(v.detach()), 5) for k, v in losses.items()}
    with (run_dir / "metrics.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def _write_run_card(run_dir: Path, config, data: SceneWindows, vocabulary) -> None:
    card = {
        "provenance": data.provenance,
        "note": (
            "CONTROLLED construction: scene labels are declared from style labels "
            "(models.scene.data.CONTROLLED_SCENE_STYLES), not observed"
            if data.provenance == CONTROLLED
            else "scene labels from the scenes table (CLIP zero-shot on video keyframes)"
        ),
        "scenes": list(data.scenes),
        "associations": {k: list(v) for k, v in data.associations.items()},
        "embedding_source": vocabulary.source,
        "windows": len(data),
        "windows_with_scene": int((data.scene >= 0).sum()),
        "config": asdict(config),
    }
    (run_dir / "run.json").write_text(json.dumps(card, indent=2, default=str))
