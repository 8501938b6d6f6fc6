"""Motion-capture import: one BVH file -> one `MotionClip` on the canonical skeleton.

Owns the path from a BVH file to the clips table's contract (metres, y up, 30 fps, facing +z at
frame 0, floor at y = 0): parse and forward kinematics (`storage.bvh`), name map onto the 19
canonical joints (`storage.joint_maps`), up-axis fix, unit normalisation, resampling, and
`storage.canonical.place_in_canonical_frame`. Every way a file can be bad (format, unknown
hierarchy, NaN, zero frames, implausible scale) raises `MocapImportError` naming the file, so
an ingest stage can turn it into a `FailureRecord` without catching anything broader.

Skeletons: a known family (`storage.joint_maps`), else any rig whose joint names follow a common
convention (`storage.rig_matching`, checked on the first frame: left on the left, plausible limb
proportions), else a joint map the user wrote (`load_joint_map`, `--joint-map FILE`), which
then wins over detection for every file it is given with.

Up axis: the body's up vector (neck minus the mid-point of the ankles, averaged over the clip) is
expected along +y; when it lies closer to another signed axis (z-up exports from 3D packages),
the whole motion is rotated by the exact axis permutation taking that axis onto +y. Neck minus
pelvis alone is not enough: the hunched walk in semi_mst_m21 `style/OLD-2.bvh` leans its trunk
45 degrees, so its trunk vector is as much +z as +y; the legs settle it.

Units: an explicit `scale` (file unit -> metres) wins. Otherwise the hip->knee->ankle leg length
picks, among metres / centimetres / millimetres / inches, the unit giving a human leg in
0.55-1.2 m, closest to 0.85 m. When no unit fits (the semi_mst_m21 `style/` folder is in
arbitrary units, pelvis about 17 units high) the skeleton is scaled to a 0.85 m leg and a
warning is logged.

Size: `storage.bvh` bounds `Frame Time` and the values a file may hold; here, before forward
kinematics allocates anything per frame, a file is refused when its frames x joints exceeds
`MAX_SOURCE_JOINT_FRAMES`, or when the 30 fps clip it would give has more than `MAX_CLIP_FRAMES`
or fewer than `MIN_CLIP_FRAMES` frames; and a placed clip with a joint farther than
`MAX_EXTENT_M` from the start (huge or overflowing values) is refused before it is stored.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import yaml

from storage.bvh import BvhFormatError, BvhMotion, forward_kinematics, read_bvh
from storage.canonical import place_in_canonical_frame, root_trajectory
from storage.errors import UserInputError, cut_message
from storage.joint_maps import (
    SkeletonMap,
    UnknownSkeletonError,
    apply_joint_map,
    detect_skeleton_map,
    user_joint_map,
)
from storage.records import MotionClip, RecordError, SourceKind, Split, make_clip_id
from storage.rig_matching import check_rig_geometry
from storage.skeleton import CANONICAL_FPS, JOINT_INDEX

logger = logging.getLogger(__name__)

EXTRACTOR = "stylemotion.bvh_import"
EXTRACTOR_VERSION = "1.0.0"

UNIT_SCALES: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254}
HUMAN_LEG_RANGE_M = (0.55, 1.2)
TYPICAL_LEG_M = 0.85
PLAUSIBLE_LEG_RANGE_M = (0.25, 2.5)  # what an explicit scale may produce
_FPS_SNAP_TOLERANCE = 1e-3  # "Frame Time: 0.0333333" is 30 fps, not 30.00003
# The longest clip built: 2 h at 30 fps, 98 MB of (T, 19, 3) float64 and about four times that
# while resampling and placing it. `Frame Time: 3000` asked for 11.4 million frames (10 GB).
MAX_CLIP_FRAMES = 2 * 60 * 60 * int(CANONICAL_FPS)
MIN_CLIP_FRAMES = 2  # one frame has no motion (`Frame Time: 1e-6` gave such a clip)
# Forward kinematics keeps a 3x3 rotation and a position per joint and frame (96 bytes): 6 M
# joint-frames is about 580 MB, e.g. 2 h at 30 fps or 1 h at 60 fps of a 27-joint skeleton.
MAX_SOURCE_JOINT_FRAMES = 6_000_000
# No joint of a placed clip lies farther from the start: 2 h of running is under 50 km, while a
# channel value of 1e300 would end as float32 infinity in the clip.
MAX_EXTENT_M = 100_000.0
MAX_JOINT_MAP_BYTES = 65_536  # 19 lines of `canonical: source`; a larger file is not a joint map

_NECK = JOINT_INDEX["neck"]
_ANKLES = [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]]
_LEGS = tuple(
    tuple(JOINT_INDEX[f"{side}_{joint}"] for joint in ("hip", "knee", "ankle"))
    for side in ("left", "right")
)


class MocapImportError(UserInputError, ValueError):
    """A motion-capture file could not become a clip; the message names the file and why."""


def import_bvh(
    path: str | Path,
    *,
    dataset: str,
    source_key: str,
    style: str | None = None,
    content: str | None = None,
    take: str | None = None,
    licence: str = "",
    split: Split = Split.TRAIN,
    scale: float | None = None,
    joint_map: SkeletonMap | str | Path | None = None,
) -> MotionClip:
    """Read one BVH file and return it as a canonical 30 fps clip in metres.

    `joint_map` (a file, or a map `load_joint_map` read) replaces skeleton detection.
    """
    if isinstance(joint_map, str | Path):
        joint_map = load_joint_map(joint_map)
    motion = _read_motion(path)
    check_size(motion, path)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow ends in _check_extent
        positions = _positions_in_metres(motion, path, scale, joint_map)
        placed = place_in_canonical_frame(positions)
        _check_extent(placed, path)
        trajectory = root_trajectory(placed)
    try:
        return MotionClip(
            clip_id=make_clip_id(SourceKind.MOCAP.value, dataset, source_key),
            positions=placed,
            confidence=np.ones(placed.shape[:2], dtype=np.float32),
            root_trajectory=trajectory,
            fps=CANONICAL_FPS,
            source_kind=SourceKind.MOCAP,
            source_uri=str(path),
            dataset=dataset,
            licence=licence,
            extractor=EXTRACTOR,
            extractor_version=EXTRACTOR_VERSION,
            style=style,
            content=content,
            take=take,
            split=split,
        )
    except RecordError as error:
        raise MocapImportError(f"{path}: {error}") from error


def _positions_in_metres(
    motion: BvhMotion, path: str | Path, scale: float | None, joint_map: SkeletonMap | None
) -> np.ndarray:
    """Canonical joint positions `(T, 19, 3)`: y up, metres, 30 fps, not yet placed."""
    positions = _canonical_positions(motion, path, joint_map)  # (F, 19, 3), file units
    positions = rotate_to_y_up(positions, path)
    positions = positions * _unit_scale(positions, scale, path)
    return resample_positions(positions, snap_fps(motion.fps), CANONICAL_FPS)


def _read_motion(path: str | Path) -> BvhMotion:
    try:
        return read_bvh(path)
    except BvhFormatError as error:
        raise MocapImportError(str(error)) from error
    except (OSError, ValueError) as error:
        raise MocapImportError(f"{path}: cannot read BVH: {error}") from error


def check_size(motion: BvhMotion, path: str | Path) -> None:
    """Refuse, before any per-frame allocation, a motion over the budgets or too short."""
    joint_frames = motion.num_frames * len(motion.joints)
    if joint_frames > MAX_SOURCE_JOINT_FRAMES:
        raise MocapImportError(
            f"{path}: {motion.num_frames} frames x {len(motion.joints)} joints = "
            f"{joint_frames:,} joint-frames, over the budget of {MAX_SOURCE_JOINT_FRAMES:,}"
        )
    fps = snap_fps(motion.fps)
    clip_frames = resampled_frame_count(motion.num_frames, fps, CANONICAL_FPS)
    if not MIN_CLIP_FRAMES <= clip_frames <= MAX_CLIP_FRAMES:
        raise MocapImportError(
            f"{path}: {motion.num_frames} frames at {fps:g} fps give {clip_frames:,} frames at "
            f"{CANONICAL_FPS:g} fps, accepted {MIN_CLIP_FRAMES} to {MAX_CLIP_FRAMES:,}"
        )


def _check_extent(positions: np.ndarray, path: str | Path) -> None:
    """Refuse placed positions `(T, J, 3)` with a coordinate over `MAX_EXTENT_M` or NaN."""
    extent = float(np.max(np.abs(positions)))
    if not extent <= MAX_EXTENT_M:  # NaN fails too
        raise MocapImportError(
            f"{path}: implausible motion: a joint lies {extent:.3g} m from the start, over "
            f"{MAX_EXTENT_M:g} m"
        )


def _canonical_positions(
    motion: BvhMotion, path: str | Path, joint_map: SkeletonMap | None = None
) -> np.ndarray:
    """Forward kinematics mapped onto the canonical joints, `(F, 19, 3)` in file units."""
    try:
        if joint_map is not None:  # the user's map, checked against this file's joints
            pairs = {joint: sources[0][0] for joint, sources in joint_map.joint_sources.items()}
            skeleton_map = user_joint_map(pairs, joint_map.name, motion.joint_names)
        else:
            skeleton_map = detect_skeleton_map(motion.joint_names, motion.parents)
    except UnknownSkeletonError as error:
        raise MocapImportError(f"{path}: unknown hierarchy: {error}") from error
    source = forward_kinematics(motion)  # (F, S, 3)
    positions = apply_joint_map(motion.joint_names, source, skeleton_map)
    if not np.isfinite(positions).all():
        raise MocapImportError(f"{path}: forward kinematics gives NaN or infinite positions")
    if skeleton_map.inferred:
        try:
            check_rig_geometry(positions[0], skeleton_map)
        except UnknownSkeletonError as error:
            raise MocapImportError(f"{path}: {error}") from error
    logger.debug("%s: skeleton family %s, %d frames", path, skeleton_map.name, motion.num_frames)
    return positions


def load_joint_map(path: str | Path) -> SkeletonMap:
    """A user's joint map: YAML or JSON `{canonical_joint: source_joint}` for all 19 joints.

    The canonical side is checked here (one line naming unknown, missing or non-text entries);
    whether a file holds the source joints is checked per file at import.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_JOINT_MAP_BYTES + 1)
    except OSError as error:
        raise MocapImportError(f"{path}: cannot read the joint map ({error.strerror})") from error
    if len(data) > MAX_JOINT_MAP_BYTES:
        raise MocapImportError(f"{path}: larger than {MAX_JOINT_MAP_BYTES} bytes: not a joint map")
    text = data.decode("utf-8", errors="replace")
    try:
        pairs = json.loads(text) if str(path).lower().endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise MocapImportError(f"{path}: not valid YAML/JSON: {cut_message(error, 200)}") from error
    try:
        return user_joint_map(pairs, str(path))
    except UnknownSkeletonError as error:
        raise MocapImportError(str(error)) from error


def rotate_to_y_up(positions: np.ndarray, path: str | Path = "<positions>") -> np.ndarray:
    """Rotate positions `(T, J, 3)` so the body's mean up vector lies along +y (see module doc)."""
    ankles = positions[:, _ANKLES].mean(axis=1)  # (T, 3)
    up = (positions[:, _NECK] - ankles).mean(axis=0)  # (3,)
    if not np.isfinite(up).all() or np.linalg.norm(up) < 1e-9:
        raise MocapImportError(f"{path}: cannot tell up from down: neck and ankles coincide")
    axis = int(np.argmax(np.abs(up)))
    if axis == 1 and up[1] > 0:
        return positions
    source_up = np.zeros(3)
    source_up[axis] = np.sign(up[axis])
    rotation = _rotation_between_axes(source_up, np.array([0.0, 1.0, 0.0]))
    logger.info("%s: body up is %s, rotating to y-up", path, "-+"[int(up[axis] > 0)] + "xyz"[axis])
    return positions @ rotation.T


def _rotation_between_axes(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The proper rotation taking unit axis `source` onto unit axis `target` (90 or 180 deg)."""
    if np.dot(source, target) < -0.5:  # opposite: half turn about an axis perpendicular to both
        perpendicular = np.roll(np.abs(target), 1)
        return 2.0 * np.outer(perpendicular, perpendicular) - np.eye(3)
    axis = np.cross(source, target)  # unit, as the two are orthogonal
    skew = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + skew + skew @ skew  # Rodrigues with sin = 1, cos = 0


def leg_length(positions: np.ndarray) -> float:
    """Median over frames of the mean hip->knee->ankle length of the two legs."""
    lengths = []
    for hip, knee, ankle in _LEGS:
        thigh = np.linalg.norm(positions[:, knee] - positions[:, hip], axis=-1)
        shin = np.linalg.norm(positions[:, ankle] - positions[:, knee], axis=-1)
        lengths.append(thigh + shin)
    return float(np.median(np.mean(lengths, axis=0)))


def choose_unit_scale(leg: float) -> float | None:
    """File unit -> metres from a leg length in file units, or None when no unit is human."""
    low, high = HUMAN_LEG_RANGE_M
    fitting = [s for s in UNIT_SCALES.values() if low <= leg * s <= high]
    return min(fitting, key=lambda s: abs(leg * s - TYPICAL_LEG_M)) if fitting else None


def _unit_scale(positions: np.ndarray, scale: float | None, path: str | Path) -> float:
    leg = leg_length(positions)
    if not (math.isfinite(leg) and leg > 1e-9):
        raise MocapImportError(f"{path}: implausible scale: leg length is {leg}")
    if scale is not None:
        low, high = PLAUSIBLE_LEG_RANGE_M
        if not (math.isfinite(scale) and scale > 0 and low <= leg * scale <= high):
            raise MocapImportError(
                f"{path}: implausible scale {scale}: leg length would be {leg * scale:.3f} m"
            )
        return scale
    chosen = choose_unit_scale(leg)
    if chosen is None:
        chosen = TYPICAL_LEG_M / leg
        logger.warning(
            "%s: leg length %.4g fits no unit (m, cm, mm, inch); scaling it to %.2f m",
            path,
            leg,
            TYPICAL_LEG_M,
        )
    return chosen


def snap_fps(fps: float) -> float:
    """Round a frame rate read from a rounded "Frame Time" (e.g. 30.00003) to the integer."""
    nearest = round(fps)
    return (
        float(nearest) if nearest > 0 and abs(fps - nearest) <= _FPS_SNAP_TOLERANCE * fps else fps
    )


def resample_positions(positions: np.ndarray, source_fps: float, target_fps: float) -> np.ndarray:
    """Linear interpolation of positions `(F, J, 3)` at times k / target_fps within the clip.

    Equal rates return the input unchanged; 60 -> 30 fps picks every other frame exactly.
    """
    if source_fps == target_fps:
        return positions
    num_frames = positions.shape[0]
    num_out = resampled_frame_count(num_frames, source_fps, target_fps)
    source_index = np.arange(num_out) * (source_fps / target_fps)  # fractional source frames
    below = np.minimum(np.floor(source_index).astype(int), num_frames - 1)
    above = np.minimum(below + 1, num_frames - 1)
    weight = (source_index - below)[:, None, None]
    return (1.0 - weight) * positions[below] + weight * positions[above]


def resampled_frame_count(num_frames: int, source_fps: float, target_fps: float) -> int:
    """Frames `resample_positions` gives: the times k / target_fps within the clip's duration."""
    if source_fps == target_fps:
        return num_frames
    duration = (num_frames - 1) / source_fps
    return int(math.floor(duration * target_fps + 1e-9)) + 1
