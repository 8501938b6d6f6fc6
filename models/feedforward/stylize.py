"""Batch stylization with a trained AdaIN run: one forward pass per window, no sampling.

Owns `AdaINStylizer`, a `Stylizer` of the evaluation harness
(`models.evaluation.stylization_eval`). A target style is asked for by label (the frozen
encoder's prototype of that style's training windows, saved in the run), optionally other
labels per body part (`StyleTarget.part_styles`: those parts' codes are replaced); parts
requested in the source's own style are then composed back from the source
(`models.diffusion.part_compose.compose_unrequested`), as the diffusion stylizer does. `strength`
s moves each window's style vectors from the source window's own codes (the frozen encoders on
that window) towards the target: `own + s * (target - own)`; 0 rebuilds the source as the network
reconstructs it, 1 is the target, > 1 extrapolates, outside [0, 10] is refused. Sources of any
length are cut into overlapping windows, placed in their own frames, restyled in batches and
stitched back by the diffusion stylizer's `restyle_in_windows`; label conditions and `stylize`
come from its `LabelConditions`.
The output is deterministic: `seed` is accepted for the interface and unused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from models.diffusion.data import EncoderCodes, style_vectors
from models.diffusion.motion_repr import as_tensor
from models.diffusion.stylize import (
    MAX_STRENGTH,
    LabelConditions,
    StyleCondition,
    StylizeError,
    restyle_in_windows,
)
from models.encoders.run import EncoderRunError, load_encoder_run
from models.feedforward.adain import stylized_positions
from models.feedforward.checkpoint import AdaINCheckpointError, AdaINRun, load_adain_run


class AdaINStylizer(LabelConditions):
    """Stylizes motion with a train-adain run and its frozen encoders (one pass per window)."""

    name = "feed-forward AdaIN"
    uses_strength = True

    def __init__(
        self,
        run: AdaINRun,
        codes: EncoderCodes,
        compose_parts: bool = True,
        batch_size: int = 256,
    ) -> None:
        self.run, self.codes = run, codes
        self.compose_parts, self.batch_size = compose_parts, batch_size
        self.window = run.model.config.window_frames
        self.device = next(run.model.parameters()).device

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> AdaINStylizer:
        """The run at `run_dir`; refused when its encoder run is gone or has changed since."""
        run = load_adain_run(run_dir, device)
        try:
            encoder = load_encoder_run(run.encoder_run, device)
        except (EncoderRunError, OSError) as error:
            raise AdaINCheckpointError(
                f"{run_dir}: its encoder run cannot be loaded: {error}"
            ) from error
        if encoder.checksum != run.encoder_checksum:
            raise AdaINCheckpointError(
                f"{run_dir}: trained with encoder checksum {run.encoder_checksum[:12]}, but "
                f"{run.encoder_run} now has {encoder.checksum[:12]} (mismatched encoder run)"
            )
        return cls(run, EncoderCodes(encoder.model, encoder.stats, encoder.features))

    def stylize_positions(
        self,
        sources: Sequence[np.ndarray],
        conditions: Sequence[StyleCondition],
        strength: float,
        seed: int = 0,
    ) -> list[np.ndarray]:
        """Each source `(T_i, J, 3)` restyled towards its condition at `strength` (`seed` is
        unused: one deterministic pass)."""
        if not (math.isfinite(strength) and 0.0 <= strength <= MAX_STRENGTH):
            raise StylizeError(f"strength {strength:g} outside [0, {MAX_STRENGTH:g}]")
        if len(sources) != len(conditions):
            raise StylizeError(f"{len(sources)} sources but {len(conditions)} style conditions")
        if not sources:
            return []
        return restyle_in_windows(
            sources,
            conditions,
            self.window,
            lambda windows, vectors: self._restyle(windows, vectors, strength),
        )

    @torch.no_grad()
    def _restyle(self, windows: np.ndarray, targets: Tensor, strength: float) -> np.ndarray:
        """Local windows `(N, W, J, 3)` and target vectors `(N, 6, Ds)` -> local windows."""
        out = []
        for start in range(0, len(windows), self.batch_size):
            local = as_tensor(windows[start : start + self.batch_size], self.device)
            own = self.codes(local)
            own_vectors = style_vectors(own.z_style.float(), own.z_style_parts.float())
            target = targets[start : start + self.batch_size].to(self.device)
            vectors = own_vectors + strength * (target - own_vectors)
            restyled = stylized_positions(self.run.model, self.run.normaliser, local, vectors)
            out.append(restyled.cpu().numpy())
        return np.concatenate(out)
