"""Per-part stylization by composition: untargeted body parts stay exactly the source's.

Owns `compose_parts(source, output, targeted_parts)` and `kept_parts(...)`. The diffusion model
takes one style token per body part, but its output still moves every joint (measured part
leakage about 1.0, `docs/STYLIZATION.md`). Composition makes per-part control local by
construction: the pelvis, root trajectory and every untargeted part come from the source; a
targeted part's joints come from the stylized output, taken relative to the joint the part
hangs from (pelvis for legs and torso, chest for arms), turned by the per-frame heading
difference, and re-attached to that joint of the composed body (so arms follow a stylized
torso, and an untargeted arm follows it rigidly). Numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from storage.canonical import facing_yaw
from storage.skeleton import BODY_PART_INDICES, BODY_PART_NAMES, JOINT_INDEX

_PELVIS, _CHEST = JOINT_INDEX["pelvis"], JOINT_INDEX["chest"]
_ANCHOR = {"torso": _PELVIS, "left_leg": _PELVIS, "right_leg": _PELVIS}
_ANCHOR |= {"left_arm": _CHEST, "right_arm": _CHEST}
_ORDER = ("torso", "left_leg", "right_leg", "left_arm", "right_arm")  # anchors first
PART_ALIASES: dict[str, tuple[str, ...]] = {
    "arms": ("left_arm", "right_arm"),
    "legs": ("left_leg", "right_leg"),
    **{name: (name,) for name in BODY_PART_NAMES},
}


def _turn(vectors: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Vectors `(T, N, 3)` turned by `angle (T,)` radians about +y."""
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    return np.stack([cos * x + sin * z, y, -sin * x + cos * z], axis=-1)


def compose_parts(
    source: np.ndarray, output: np.ndarray, targeted_parts: Sequence[str]
) -> np.ndarray:
    """Positions `(T, J, 3)`: the source, with `targeted_parts` taken from `output`."""
    unknown = sorted(set(targeted_parts) - set(BODY_PART_NAMES))
    if unknown:
        raise ValueError(f"unknown body parts {unknown}; use {list(BODY_PART_NAMES)}")
    frames = min(len(source), len(output))
    source, output = source[:frames].astype(np.float64), output[:frames].astype(np.float64)
    turn = facing_yaw(source) - facing_yaw(output)  # (T,) output heading -> source heading
    composed = source.copy()
    for part in _ORDER:
        joints = [j for j in BODY_PART_INDICES[part] if j != _PELVIS]
        anchor = _ANCHOR[part]
        if part in targeted_parts:
            relative = _turn(output[:, joints] - output[:, anchor : anchor + 1], turn)
        else:
            relative = source[:, joints] - source[:, anchor : anchor + 1]
        composed[:, joints] = composed[:, anchor : anchor + 1] + relative
    return composed.astype(np.float32)


def kept_parts(
    source_style: str | None, global_style: str, part_styles: Mapping[str, str]
) -> tuple[str, ...]:
    """Body parts whose requested style is the source's own (they stay the source's)."""
    requested = dict.fromkeys(BODY_PART_NAMES, global_style)
    for name, style in part_styles.items():
        for part in PART_ALIASES.get(name, (name,)):
            requested[part] = style
    if source_style is None:
        return ()
    return tuple(part for part in BODY_PART_NAMES if requested[part] == source_style)


def compose_unrequested(
    source: np.ndarray,
    source_style: str | None,
    output: np.ndarray,
    global_style: str,
    part_styles: Mapping[str, str],
) -> np.ndarray:
    """`output`, with the parts requested in the source's own style composed from `source`
    (unchanged when no part, or every part, keeps the source's style)."""
    keep = kept_parts(source_style, global_style, part_styles)
    if not 0 < len(keep) < len(BODY_PART_NAMES):
        return output
    return compose_parts(source, output, [p for p in BODY_PART_NAMES if p not in keep])
