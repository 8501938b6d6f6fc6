"""Guided DDIM sampling of a diffusion run, and the sampler's two content paths (issue 17).

Owns `CONTENT_PATHS` and `sample_windows`. Both paths run DDIM with classifier-free guidance
(`strength` = the guidance scale) over the source windows' conditions: the frozen encoders'
content sequence, the root trajectory, and the source window itself where the model has source
control (`models.diffusion.denoiser.SourceControl`).

* "generate": the model draws the motion; the x0 estimate of a step is
  `uncond + s (cond - uncond)`. On a gesture it never saw, the model draws what its content code
  resembles (docs/STYLIZATION.md).
* "edit": the model draws the change, not the motion. The x0 estimate of a step is
  `x_src + s (cond - uncond)`: the source's own encoding plus the difference the style makes to
  the model's prediction from the same noisy sample, so the chain stays anchored on the source;
  the output is the source plus `decode(x) - decode(x_src)` in positions, so strength 0 returns
  the source exactly (no VAE reconstruction error) and strength s adds s times the style's change.
"""

from __future__ import annotations

import torch
from torch import Tensor

from models.diffusion.motion_repr import trajectory_condition
from models.diffusion.sampling_defaults import CONTENT_PATHS
from models.diffusion.schedule import NoiseSchedule


def _both(tensor: Tensor | None) -> Tensor | None:
    return None if tensor is None else torch.cat([tensor, tensor])


@torch.no_grad()
def sample_windows(
    run,
    schedule: NoiseSchedule,
    timesteps: list[int],
    local: Tensor,
    content: Tensor,
    vectors: Tensor,
    strength: float,
    generator: torch.Generator,
    content_path: str = "generate",
    start_from_source: bool = False,
) -> Tensor:
    """Local positions `(N, W, J, 3)` of the stylized windows `local (N, W, J, 3)`.

    `run` is a `DiffusionRun` (model + space), `content (N, S, Dc)` the source's content
    sequence, `vectors (N, 6, Ds)` the style conditions; `start_from_source` starts the chain from
    the source noised to `timesteps[0]` (SDEdit) instead of from noise."""
    if content_path not in CONTENT_PATHS:
        raise ValueError(f"content path {content_path!r}: use one of {CONTENT_PATHS}")
    model, space = run.model, run.space
    device = local.device
    source = space.encode(local)  # (N, W', Dm)
    trajectory = None
    if model.config.trajectory_dim:
        trajectory = trajectory_condition(local, space.frame_factor, model.config.rhythm_condition)
    control = source if model.config.source_control else None
    x = torch.randn(source.shape, generator=generator).to(device)
    edit = content_path == "edit"
    if start_from_source or edit:
        start = torch.full((len(x),), timesteps[0], dtype=torch.long, device=device)
        x = schedule.q_sample(source, start, x)
    keep = torch.cat([torch.ones(len(x), dtype=torch.bool), torch.zeros(len(x), dtype=torch.bool)])
    for i, t in enumerate(timesteps):
        batch_t = torch.full((2 * len(x),), t, dtype=torch.long, device=device)
        both = model(
            torch.cat([x, x]),
            batch_t,
            torch.cat([content, content]),
            torch.cat([vectors, vectors]),
            keep.to(device),
            trajectory=_both(trajectory),
            source=_both(control),
        )
        conditional, unconditional = both.chunk(2)
        anchor = source if edit else unconditional
        x0 = anchor + strength * (conditional - unconditional)  # classifier-free guidance
        t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else -1
        x = schedule.ddim_step(x, x0, t, t_prev).sample
    if edit:
        return local + space.decode(x) - space.decode(source)
    return space.decode(x)
