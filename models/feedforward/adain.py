"""The AdaIN stylizer network: a temporal conv content encoder and an AdaIN-modulated decoder.

Owns `AdaINConfig` (saved in the checkpoint, so loading needs no flags), `AdaINStylizerNet` and
`stylized_positions`. The network works on standardised local windows `(B, W, J * 3)`
(`models.diffusion.motion_repr.MotionNormaliser`): the content encoder is a stack of `Conv1d`
layers over time, each followed by instance normalisation without affine parameters, so the
per-channel statistics over the window (where the style lives in this family of models) are
removed; the decoder is a stack of `Conv1d` layers whose normalisation is adaptive instance
normalisation (AdaIN) with per-channel scale and bias from an MLP of the style vectors
`(B, 6, Ds)` (the global `z_s` and the five part codes, flattened, so parts can be asked for
separately), ending in a 1x1 convolution back to the standardised window. With
`root_passthrough` the decoded window is moved, frame by frame, so its pelvis ground path is the
source's (the root trajectory passes through; the pose is the network's).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from models.diffusion.motion_repr import MOTION_DIM, MotionNormaliser
from storage.skeleton import JOINT_INDEX

_PELVIS = JOINT_INDEX["pelvis"]
STYLE_TOKENS = 6  # global style + five body parts (`models.diffusion.data.style_vectors`)


@dataclass(frozen=True)
class AdaINConfig:
    motion_dim: int = MOTION_DIM
    window_frames: int = 60  # the encoders' window; the stylizer cuts sources into these
    style_dim: int = 64
    style_tokens: int = STYLE_TOKENS
    channels: int = 128
    num_layers: int = 3  # conv layers of the content encoder, and of the decoder
    kernel: int = 5  # frames per temporal convolution (odd)
    style_hidden: int = 256  # width of the style MLP
    root_passthrough: bool = True

    def __post_init__(self) -> None:
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise ValueError(f"kernel must be an odd number >= 1, got {self.kernel}")
        if self.kernel // 2 >= self.window_frames:
            raise ValueError(f"kernel {self.kernel} too wide for {self.window_frames} frames")
        for name in ("motion_dim", "style_dim", "style_tokens", "channels", "num_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def _temporal_conv(in_channels: int, out_channels: int, kernel: int) -> nn.Conv1d:
    return nn.Conv1d(in_channels, out_channels, kernel, padding=kernel // 2, padding_mode="reflect")


class AdaIN(nn.Module):
    """Instance normalisation of `(B, C, W)` features, then the style's scale and bias `(B, C)`."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm1d(channels, affine=False)

    def forward(self, features: Tensor, scale: Tensor, bias: Tensor) -> Tensor:
        return self.norm(features) * (1 + scale[..., None]) + bias[..., None]


class AdaINStylizerNet(nn.Module):
    """Standardised window `(B, W, D)` + style vectors `(B, 6, Ds)` -> standardised window."""

    def __init__(self, config: AdaINConfig) -> None:
        super().__init__()
        self.config = c = config
        layers: list[nn.Module] = []
        for index in range(c.num_layers):
            in_channels = c.motion_dim if index == 0 else c.channels
            layers += [
                _temporal_conv(in_channels, c.channels, c.kernel),
                nn.InstanceNorm1d(c.channels, affine=False),
                nn.LeakyReLU(0.2),
            ]
        self.content_encoder = nn.Sequential(*layers)
        self.decoder_convs = nn.ModuleList(
            _temporal_conv(c.channels, c.channels, c.kernel) for _ in range(c.num_layers)
        )
        self.adain = AdaIN(c.channels)
        self.activation = nn.LeakyReLU(0.2)
        self.output = nn.Conv1d(c.channels, c.motion_dim, 1)
        self.style_mlp = nn.Sequential(
            nn.Flatten(1),
            nn.Linear(c.style_tokens * c.style_dim, c.style_hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(c.style_hidden, 2 * c.num_layers * c.channels),
        )
        last = self.style_mlp[-1]
        nn.init.zeros_(last.weight)  # start as plain instance norm: scale 1, bias 0
        nn.init.zeros_(last.bias)

    def content(self, x: Tensor) -> Tensor:
        """`(B, W, D)` -> content features `(B, C, W)` (per-channel statistics removed)."""
        return self.content_encoder(x.transpose(1, 2))

    def style_parameters(self, vectors: Tensor) -> Tensor:
        """Style vectors `(B, 6, Ds)` -> AdaIN scale and bias `(B, layers, 2, C)`."""
        c = self.config
        return self.style_mlp(vectors.float()).view(-1, c.num_layers, 2, c.channels)

    def decode(self, content: Tensor, vectors: Tensor) -> Tensor:
        """Content `(B, C, W)` + style vectors `(B, 6, Ds)` -> standardised window `(B, W, D)`."""
        parameters = self.style_parameters(vectors)
        features = content
        for index, conv in enumerate(self.decoder_convs):
            scale, bias = parameters[:, index, 0], parameters[:, index, 1]
            features = self.activation(self.adain(conv(features), scale, bias))
        return self.output(features).transpose(1, 2)

    def forward(self, x: Tensor, vectors: Tensor) -> Tensor:
        return self.decode(self.content(x), vectors)


def pass_source_root(positions: Tensor, source: Tensor) -> Tensor:
    """Positions `(B, W, J, 3)` shifted per frame so the pelvis ground (x, z) is the source's."""
    shift = source[:, :, _PELVIS, [0, 2]] - positions[:, :, _PELVIS, [0, 2]]  # (B, W, 2)
    zero = torch.zeros_like(shift[..., 0])
    offset = torch.stack([shift[..., 0], zero, shift[..., 1]], dim=-1)  # (B, W, 3)
    return positions + offset[:, :, None]


def stylized_positions(
    net: AdaINStylizerNet, normaliser: MotionNormaliser, local: Tensor, vectors: Tensor
) -> Tensor:
    """Local windows `(B, W, J, 3)` (metres) restyled to `vectors (B, 6, Ds)`: local positions."""
    decoded = normaliser.decode(net(normaliser.encode(local), vectors))
    return pass_source_root(decoded, local) if net.config.root_passthrough else decoded
