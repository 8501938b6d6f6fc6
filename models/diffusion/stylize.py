"""Batch stylization with a trained diffusion run: style conditions, DDIM sampling, stitching.

Owns `DiffusionStylizer`. A style comes from a label (the frozen encoder's prototype of that
style's training windows), from reference clips (the mean of their windows' codes; new styles
taken from new videos arrive as clips of the video-ingest stage), per body part (arms from one
style, legs from another: `part_styles`), optionally fused with a scene vector
(`z_cond = z_s + alpha * z_scene`, the scene issue's slot); with per-part requests the parts
that keep the source's own style are composed back from the source
(`models.diffusion.part_compose`). Sources of any length are cut into overlapping model windows,
each moved into its own frame, denoised in one batch with classifier-free guidance (`strength` is
the guidance scale: 0 = no style, 1 = the conditional model, > 1 stronger), moved back and
cross-faded; a source shorter than a window is padded by holding its last frame, and the output is
cropped back (logged). The sampling itself, and its content paths ("generate" the motion or
"edit" the source: generate only the change), live in `models.diffusion.sampler`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from models.diffusion.checkpoint import DiffusionRun, load_run_checkpoint
from models.diffusion.data import EncoderCodes, local_windows, style_vectors
from models.diffusion.motion_repr import as_tensor, placement_of
from models.diffusion.part_compose import PART_ALIASES, compose_unrequested
from models.diffusion.sampler import sample_windows
from models.diffusion.sampling_defaults import (
    CONTENT_PATHS,
    LIBRARY_CONTENT_PATH,
)
from models.diffusion.schedule import NoiseSchedule
from models.encoders.run import load_encoder_run
from models.encoders.windows import WindowIndex
from storage.errors import UserInputError
from storage.records import MotionClip
from storage.skeleton import BODY_PART_NAMES

logger = logging.getLogger(__name__)

MAX_STRENGTH = 10.0


class StylizeError(UserInputError, ValueError):
    """A stylization request cannot be served; the message names the input and the reason."""


@dataclass(frozen=True)
class StyleTarget:
    """What one source is stylized to: a global style, optionally other styles per body part."""

    style: str  # global target style label
    part_styles: Mapping[str, str] = field(default_factory=dict)  # body part -> style override


@dataclass(frozen=True)
class StyleCondition:
    """The adaptor's input for one source: global `(Ds,)` and per-part `(5, Ds)` styles."""

    style: Tensor
    parts: Tensor
    description: str
    scene: Tensor | None = None
    scene_weight: float = 0.0

    def vectors(self) -> Tensor:
        glob = self.style if self.scene is None else self.style + self.scene_weight * self.scene
        return style_vectors(glob[None], self.parts[None])[0]  # (6, Ds)


def part_indices(name: str) -> list[int]:
    if name not in PART_ALIASES:
        raise StylizeError(f"unknown body part {name!r}; use one of {sorted(PART_ALIASES)}")
    return [BODY_PART_NAMES.index(part) for part in PART_ALIASES[name]]


class LabelConditions:
    """Style conditions by label from a run's per-style prototypes, and the harness's `stylize`;
    shared by the diffusion and the feed-forward stylizers (`self.run` has `vocabulary`,
    `prototypes`, `part_prototypes`; `self.stylize_positions` does the work)."""

    run: Any
    compose_parts: bool

    @property
    def styles(self) -> tuple[str, ...]:
        return self.run.vocabulary.styles

    def condition_of_label(self, label: str) -> StyleCondition:
        if label not in self.styles:
            raise StylizeError(f"unknown style {label!r}; this run knows {list(self.styles)}")
        index = self.styles.index(label)
        return StyleCondition(
            self.run.prototypes[index], self.run.part_prototypes[index], f"label:{label}"
        )

    def condition_of_target(self, target: StyleTarget) -> StyleCondition:
        """The target's global prototype, with the parts of `part_styles` from their labels."""
        base = self.condition_of_label(target.style)
        parts = base.parts.clone()
        for part_name, label in target.part_styles.items():
            other = self.condition_of_label(label)
            for index in part_indices(part_name):
                parts[index] = other.parts[index]
        overrides = ",".join(f"{k}={v}" for k, v in sorted(target.part_styles.items()))
        return StyleCondition(
            base.style, parts, base.description + (f";{overrides}" if overrides else "")
        )

    def stylize(
        self,
        sources: Sequence[MotionClip],
        targets: Sequence[StyleTarget],
        strength: float,
        seed: int,
    ) -> list[np.ndarray]:
        """World positions `(T_i, J, 3)` per source (the evaluation harness's interface). With
        `compose_parts`, parts whose requested style is the source's own stay the source's."""
        conditions = [self.condition_of_target(target) for target in targets]
        outputs = self.stylize_positions([s.positions for s in sources], conditions, strength, seed)
        if not self.compose_parts:
            return outputs
        return [
            compose_unrequested(s.positions, s.style, out, t.style, t.part_styles)
            for s, out, t in zip(sources, outputs, targets, strict=True)
        ]


def restyle_in_windows(
    sources: Sequence[np.ndarray],
    conditions: Sequence[StyleCondition],
    window: int,
    restyle: Callable[[np.ndarray, Tensor], np.ndarray],
) -> list[np.ndarray]:
    """Cut each source `(T_i, J, 3)` into overlapping windows moved into their own frames,
    `restyle(local windows (N, W, J, 3), style vectors (N, 6, Ds))` them in one batch, move them
    back and cross-fade them into `(T_i, J, 3)`."""
    plans = [_window_plan(len(positions), window) for positions in sources]
    windows, placements, vectors = [], [], []
    for positions, starts, condition in zip(sources, plans, conditions, strict=True):
        held = _hold_last(positions, window)
        for start in starts:
            placement = placement_of(held[start : start + window])
            windows.append(placement.to_local(held[start : start + window]))
            placements.append(placement)
            vectors.append(condition.vectors())
    local = restyle(np.stack(windows), torch.stack(vectors))
    world = [p.to_world(w) for p, w in zip(placements, local, strict=True)]
    outputs, cursor = [], 0
    for positions, starts in zip(sources, plans, strict=True):
        chunk = world[cursor : cursor + len(starts)]
        cursor += len(starts)
        outputs.append(_stitch(chunk, starts, len(positions), window))
    return outputs


class DiffusionStylizer(LabelConditions):
    """Stylizes motion with a diffusion run (adaptor stage) and its frozen encoders."""

    name = "diffusion"

    def __init__(
        self,
        run: DiffusionRun,
        codes: EncoderCodes,
        steps: int = 20,
        source_noise: float = 1.0,
        compose_parts: bool = True,
        content_path: str = LIBRARY_CONTENT_PATH,
    ) -> None:
        self.compose_parts = compose_parts
        if content_path not in CONTENT_PATHS:
            raise StylizeError(f"content path {content_path!r}: use one of {CONTENT_PATHS}")
        self.content_path = content_path
        if not 0.0 < source_noise <= 1.0:
            raise StylizeError(f"source_noise {source_noise} outside (0, 1]")
        self.source_noise = source_noise
        if run.stage != "adaptor":
            raise StylizeError(f"{run.path}: a {run.stage} run has no style adaptor")
        self.run, self.codes, self.steps = run, codes, steps
        self.schedule = NoiseSchedule(run.train_config["diffusion_steps"])
        self.window = run.motion_frames
        self.device = next(run.model.parameters()).device

    @classmethod
    def load(
        cls,
        run_dir: str | Path,
        device: str = "cpu",
        steps: int = 20,
        source_noise: float = 1.0,
        content_path: str = LIBRARY_CONTENT_PATH,
    ) -> DiffusionStylizer:
        run = load_run_checkpoint(Path(run_dir), device)
        encoder = load_encoder_run(run.encoder_run, device)
        if encoder.checksum != run.encoder_checksum:
            raise StylizeError(
                f"{run_dir}: trained with encoder checksum {run.encoder_checksum[:12]}, but "
                f"{run.encoder_run} now has {encoder.checksum[:12]} (mismatched encoder run)"
            )
        codes = EncoderCodes(encoder.model, encoder.stats, encoder.features)
        return cls(run, codes, steps, source_noise, content_path=content_path)

    def condition_of_clips(self, clips: Sequence[MotionClip], name: str) -> StyleCondition:
        """The mean style of every window of reference clips (short clips are padded)."""
        if not clips:
            raise StylizeError(f"style reference {name!r} has no clips")
        padded = [_padded(clip, self.window) for clip in clips]
        index = WindowIndex.from_clips(
            padded, _AnyStyle(), self.codes.features, allow_unlabelled=True
        )
        codes = self.codes.encode_windows(local_windows(padded, index))
        style = F.normalize(codes["style"].mean(0), dim=-1)
        parts = F.normalize(codes["parts"].mean(0), dim=-1)
        return StyleCondition(style, parts, f"clips:{name}")

    def stylize_positions(
        self,
        sources: Sequence[np.ndarray],
        conditions: Sequence[StyleCondition],
        strength: float,
        seed: int,
    ) -> list[np.ndarray]:
        if not 0.0 <= strength <= MAX_STRENGTH:
            raise StylizeError(f"strength {strength} outside [0, {MAX_STRENGTH}]")
        if len(sources) != len(conditions):
            raise StylizeError(f"{len(sources)} sources but {len(conditions)} style conditions")
        return restyle_in_windows(
            sources,
            conditions,
            self.window,
            lambda windows, vectors: self._sample(windows, vectors, strength, seed),
        )

    def _timesteps(self) -> list[int]:
        """DDIM steps from `source_noise * T` down to 0 (all of them at 1.0)."""
        steps = self.schedule.ddim_timesteps(self.steps)
        if self.source_noise >= 1.0:
            return steps
        last = int(round(self.source_noise * (self.schedule.num_steps - 1)))
        spaced = np.linspace(last, 0, min(self.steps, last + 1)).round().astype(int)
        return sorted(set(spaced.tolist()), reverse=True)

    @torch.no_grad()
    def _sample(
        self, windows: np.ndarray, vectors: Tensor, strength: float, seed: int
    ) -> np.ndarray:
        local = as_tensor(windows, self.device)  # (N, W, J, 3)
        content = self.codes(local).z_content_seq.float()  # (N, S, Dc)
        generator = torch.Generator().manual_seed(seed)
        out = sample_windows(
            self.run,
            self.schedule,
            self._timesteps(),
            local,
            content,
            vectors.to(self.device),
            strength,
            generator,
            self.content_path,
            start_from_source=self.source_noise < 1.0,
        )
        return out.cpu().numpy()  # (N, W, J, 3)


class _AnyStyle:
    """A vocabulary stand-in for reference clips whose labels do not matter."""

    def clip_style_index(self, clip: MotionClip, allow_unlabelled: bool = False) -> int:
        return -1

    def content_index(self, content: str | None) -> int:
        return -1


def _padded(clip: MotionClip, window: int) -> MotionClip:
    if clip.num_frames >= window:
        return clip
    logger.warning(
        "reference clip %s has %d < %d frames: padded", clip.clip_id, clip.num_frames, window
    )
    held = _hold_last(clip.positions, window)
    confidence = np.ones(held.shape[:2], np.float32)
    trajectory = np.concatenate(
        [clip.root_trajectory, np.repeat(clip.root_trajectory[-1:], window - clip.num_frames, 0)]
    )
    return replace(clip, positions=held, confidence=confidence, root_trajectory=trajectory)


def _hold_last(positions: np.ndarray, window: int) -> np.ndarray:
    if len(positions) >= window:
        return positions
    logger.info(
        "source of %d frames padded to a %d-frame window (last frame held)", len(positions), window
    )
    return np.concatenate([positions, np.repeat(positions[-1:], window - len(positions), 0)])


def _window_plan(num_frames: int, window: int, overlap: int = 15) -> list[int]:
    """Window starts covering `num_frames` frames with `overlap` frames shared between windows."""
    if num_frames <= window:
        return [0]
    hop = window - overlap
    starts = list(range(0, num_frames - window + 1, hop))
    if starts[-1] + window < num_frames:
        starts.append(num_frames - window)
    return starts


def _stitch(
    windows: Sequence[np.ndarray], starts: Sequence[int], num_frames: int, window: int
) -> np.ndarray:
    """Cross-fade overlapping windows `(W, J, 3)` into `(num_frames, J, 3)`."""
    total = max(num_frames, window)
    out = np.zeros((total, *windows[0].shape[1:]), np.float64)
    weight = np.zeros(total)
    ramp = np.minimum(np.arange(1, window + 1), np.arange(window, 0, -1)).astype(np.float64)
    for positions, start in zip(windows, starts, strict=True):
        out[start : start + window] += ramp[:, None, None] * positions
        weight[start : start + window] += ramp
    return (out / weight[:, None, None])[:num_frames].astype(np.float32)
