"""What an encoder training run depends on: `TrainEncodersConfig` and its `ModelSize`.

Saved in the run and in every checkpoint (`models.encoders.run` reads it back); the training
loop (`models.encoders.train`) and its data side (`models.encoders.training_data`) both take it, so
it sits below both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.encoders.contrastive_losses import EncoderLossConfig
from models.encoders.features import FeatureConfig


@dataclass(frozen=True)
class ModelSize:
    """Encoder size. The default fits the 20-minute CPU budget of the Bandai set (about 0.3 s
    per 64-window step on 2 cores); d_model 128 / 3 layers is about 4x slower."""

    d_model: int = 64
    num_layers: int = 2
    num_heads: int = 4
    dropout: float = 0.1
    content_dim: int = 64
    style_dim: int = 64
    content_stride: int = 4
    content_instance_norm: bool = False  # see EncoderConfig and docs/ENCODERS.md


@dataclass(frozen=True)
class TrainEncodersConfig:
    """Everything a training run depends on; saved in the run and in every checkpoint."""

    data_root: str
    out: str
    seed: int = 0
    steps: int = 1500
    styles_per_batch: int = 8
    windows_per_style: int = 8
    learning_rate: float = 5e-4
    weight_decay: float = 0.01
    warmup_steps: int = 100
    coarse_groups: int = 4
    coarse_refresh_every: int = 100
    checkpoint_every: int = 100
    log_every: int = 10
    device: str = "auto"
    augment: bool = True
    # after training, erase what a linear probe reads of the style from z_c (LEACE; see
    # models.encoders.concept_erasure and docs/DATASETS.md)
    erase_style_from_content: bool = True
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelSize = field(default_factory=ModelSize)
    # The full method: coarse-to-fine (hierarchical) style contrast in place of the flat one.
    losses: EncoderLossConfig = field(
        default_factory=lambda: EncoderLossConfig(
            style_nce_enabled=False, hierarchical_enabled=True
        )
    )
