"""The scene encoder E_sc: a third head on the frozen motion backbone plus a scene-input branch.

Owns `SceneHeadConfig`, `SceneHead`, style-scene fusion and the scene checkpoint. The head reads
the shared features `(B, W, 6, D)` of `MotionEncoder.encode_backbone` (the encoder's "scene"
extension point, kept outside the frozen encoder so the encoder's checkpoint and checksum never
change), summarises them with fixed per-token temporal mean/std pooling (so training can cache
the pooled features of the frozen backbone), embeds a scene vector (a CLIP image embedding, a
CLIP text embedding of the label or a fixed label embedding, `models.scene.data`) and maps both
to `z_scene (B, Ds)` in the style space, unit length like `z_style`. A scene-classification
head reads `z_scene` (training only). Fusion, the `fusion` flag of the issue:

- "additive": z_cond = normalize(z_s + alpha * z_scene)  (the shared-space design);
- "concat":   z_cond = normalize(M [z_s ; alpha * z_scene]), M (Ds x 2Ds) learned, initialised
  to [I | I] so it starts as the additive rule (the "independent" design: z_scene need not live
  in the style space, a fusion layer decides how it combines).

The checkpoint stores the config, the weights, the scene vocabulary with its embeddings and
their source, the scene -> associated-styles table, and the encoder run's path and sha256;
`load_scene_checkpoint` refuses another kind, version or a different encoder checksum.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.common.checkpoint_io import read_checked, write_atomically
from models.encoders.encoder import check_shape
from models.encoders.features import NUM_TOKENS
from storage.errors import UserInputError, cut_message

CHECKPOINT_KIND = "stylemotion-scene-encoder"
FORMAT_VERSION = 1
SCENE_CHECKPOINT_NAME = "scene.pt"
FUSIONS = ("additive", "concat")


class SceneCheckpointError(ValueError, UserInputError):
    """A scene-encoder checkpoint cannot be used; the message names the file and the reason."""


@dataclass(frozen=True)
class SceneHeadConfig:
    """Everything needed to rebuild a `SceneHead`; saved in the checkpoint."""

    d_model: int  # backbone width D of the frozen encoder
    style_dim: int  # Ds
    embedding_dim: int  # E, width of the scene input vector
    num_scenes: int  # classes of the scene CE head
    hidden: int = 128
    fusion: str = "additive"
    use_motion: bool = True  # False: z_scene from the scene input alone (ablation)

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if min(self.d_model, self.style_dim, self.embedding_dim, self.num_scenes) < 1:
            raise ValueError("SceneHeadConfig sizes must be positive")


def pool_backbone(features: Tensor) -> Tensor:
    """Per-token temporal mean and std of backbone features `(B, W, 6, D)` -> `(B, 6 * 2D)`."""
    B, W, P, D = features.shape
    check_shape("features", features, (B, W, NUM_TOKENS, None))
    mean = features.float().mean(dim=1)  # (B, 6, D)
    std = features.float().std(dim=1, unbiased=False)  # (B, 6, D)
    return torch.cat([mean, std], dim=-1).reshape(B, P * 2 * D)  # (B, 12 D)


def fuse_additive(z_style: Tensor, z_scene: Tensor, alpha: Tensor) -> Tensor:
    """normalize(z_s + alpha * z_scene): `(B, Ds)`, `(B, Ds)`, `alpha (B,)` -> `(B, Ds)`."""
    return F.normalize(z_style + alpha[:, None] * z_scene, dim=-1)


class SceneHead(nn.Module):
    """Pooled backbone features + scene embedding -> unit `z_scene (B, Ds)`; CE head; fusion."""

    def __init__(self, config: SceneHeadConfig) -> None:
        super().__init__()
        self.config = config
        H = config.hidden
        motion_width = NUM_TOKENS * 2 * config.d_model
        self.motion = nn.Sequential(nn.LayerNorm(motion_width), nn.Linear(motion_width, H))
        self.scene = nn.Sequential(nn.Linear(config.embedding_dim, H), nn.GELU(), nn.Linear(H, H))
        self.mix = nn.Sequential(nn.GELU(), nn.LayerNorm(H), nn.Linear(H, config.style_dim))
        self.classifier = nn.Linear(config.style_dim, config.num_scenes)
        self.fusion = None
        if config.fusion == "concat":
            Ds = config.style_dim
            self.fusion = nn.Linear(2 * Ds, Ds, bias=False)
            with torch.no_grad():  # start as the additive rule: M = [I | I]
                self.fusion.weight.copy_(torch.cat([torch.eye(Ds), torch.eye(Ds)], dim=1))

    def forward_pooled(self, pooled: Tensor, embedding: Tensor) -> Tensor:
        """`z_scene (B, Ds)` from pooled features `(B, 12D)` and scene embeddings `(B, E)`."""
        B = pooled.shape[0]
        check_shape("pooled", pooled, (B, NUM_TOKENS * 2 * self.config.d_model))
        check_shape("embedding", embedding, (B, self.config.embedding_dim))
        hidden = self.scene(embedding.float())  # (B, H)
        if self.config.use_motion:
            hidden = hidden + self.motion(pooled.float())  # (B, H)
        return F.normalize(self.mix(hidden), dim=-1)  # (B, Ds)

    def forward(self, features: Tensor, embedding: Tensor) -> Tensor:
        """`z_scene (B, Ds)` of backbone features `(B, W, 6, D)` and embeddings `(B, E)`."""
        return self.forward_pooled(pool_backbone(features), embedding)

    def classify(self, z_scene: Tensor) -> Tensor:
        """Scene logits `(B, num_scenes)` (the CE head; not needed at inference)."""
        return self.classifier(z_scene)

    def fuse(self, z_style: Tensor, z_scene: Tensor, alpha: Tensor) -> Tensor:
        """Unit `z_cond (B, Ds)` of `z_style (B, Ds)`, `z_scene (B, Ds)`, `alpha (B,)`."""
        if self.fusion is None:
            return fuse_additive(z_style, z_scene, alpha)
        stacked = torch.cat([z_style, alpha[:, None] * z_scene], dim=-1)  # (B, 2 Ds)
        return F.normalize(self.fusion(stacked), dim=-1)


@dataclass
class SceneCheckpoint:
    """What `load_scene_checkpoint` returns: the head and the facts it was trained with."""

    head: SceneHead
    scenes: tuple[str, ...]
    embeddings: Tensor  # (V, E) the scene vocabulary's input vectors
    embedding_source: str  # "fixed-label:..." or "clip-text:<model>@<version>" ...
    associations: dict[str, tuple[str, ...]]  # scene -> styles it is associated with
    provenance: str  # "controlled" or "video-scenes"
    encoder_run: str
    encoder_checksum: str
    step: int
    train_config: dict[str, Any] = field(default_factory=dict)


def save_scene_checkpoint(path: Path, checkpoint: SceneCheckpoint) -> None:
    """Write the head, its config and its facts to `path` atomically."""
    payload = {
        "kind": CHECKPOINT_KIND,
        "format_version": FORMAT_VERSION,
        "config": asdict(checkpoint.head.config),
        "state_dict": checkpoint.head.state_dict(),
        "scenes": list(checkpoint.scenes),
        "embeddings": checkpoint.embeddings.float().cpu(),
        "embedding_source": checkpoint.embedding_source,
        "associations": {k: list(v) for k, v in checkpoint.associations.items()},
        "provenance": checkpoint.provenance,
        "encoder_run": checkpoint.encoder_run,
        "encoder_checksum": checkpoint.encoder_checksum,
        "step": checkpoint.step,
        "train_config": checkpoint.train_config,
    }
    write_atomically(payload, path)


def load_scene_checkpoint(path: Path, encoder_checksum: str | None = None) -> SceneCheckpoint:
    """Rebuild a saved scene head (eval mode); refuse a different encoder when a checksum is
    given (the head reads that encoder's backbone features)."""
    payload = read_checked(path, CHECKPOINT_KIND, FORMAT_VERSION, SceneCheckpointError, "scene")
    stored = payload["encoder_checksum"]
    if encoder_checksum is not None and stored != encoder_checksum:
        raise SceneCheckpointError(
            f"{path}: trained on encoder checksum {stored[:12]}, but the encoder run now has "
            f"{encoder_checksum[:12]} (mismatched encoder run: retrain the scene encoder)"
        )
    try:
        head = SceneHead(SceneHeadConfig(**payload["config"]))
        head.load_state_dict(payload["state_dict"])
    except (TypeError, ValueError, RuntimeError) as error:
        detail = cut_message(error)
        raise SceneCheckpointError(f"{path}: weights do not match the model: {detail}") from error
    return SceneCheckpoint(
        head=head.eval(),
        scenes=tuple(payload["scenes"]),
        embeddings=payload["embeddings"],
        embedding_source=payload["embedding_source"],
        associations={k: tuple(v) for k, v in payload["associations"].items()},
        provenance=payload["provenance"],
        encoder_run=payload["encoder_run"],
        encoder_checksum=stored,
        step=int(payload["step"]),
        train_config=payload.get("train_config", {}),
    )
