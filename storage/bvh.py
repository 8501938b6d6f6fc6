"""The BVH motion-capture format: parsing, writing, forward kinematics and Euler angles.

Owns the file format only, not any skeleton family: `parse_bvh` turns text into a `BvhMotion`
(joint tree + per-frame channel values), `format_bvh` writes one back, `forward_kinematics` gives
global joint positions in the file's own axes and units. Conventions (those of Blender's BVH
importer, checked by `tests/tools/check_blender_vs_numpy.py`): a joint's local rotation is the
product of its rotation channels in the order listed (intrinsic, so "Zrotation Xrotation
Yrotation" is Rz @ Rx @ Ry, degrees); its local translation is its position channels when it has
any (missing components read as 0), otherwise its OFFSET. Any malformed input raises
`BvhFormatError` naming the source and the reason. Numpy only.

Bounds, checked before anything is allocated for the frames: a `Frame Time` outside
`MIN_FRAME_TIME_S`..`MAX_FRAME_TIME_S`, a file over `MAX_FILE_BYTES`, and a declared
frames x channels over `MAX_FRAME_VALUES` are format errors too. Values are converted in chunks,
so parsing holds about the text, its lines and the `(F, C)` array, never a string per value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from storage.errors import UserInputError, short_repr

# A frame time outside 1 ms (1000 fps, beyond any BVH export) .. 1 s (1 fps, slower than any
# capture) is a broken header: `Frame Time: 100` stretched 4 s of data into a 3.5 h clip.
MIN_FRAME_TIME_S = 1e-3
MAX_FRAME_TIME_S = 1.0
# Frames x channels a file may declare (channel-less files count one per frame): 2 h at 30 fps
# of a 138-channel skeleton, 240 MB as float64. The sample takes hold 2,310 to 250,932.
MAX_FRAME_VALUES = 30_000_000
# About 18 characters per value at that budget; the real files use 9 or 10.
MAX_FILE_BYTES = 512 * 1024 * 1024
_CHUNK_TOKENS = 65_536  # values converted per numpy call

_CHANNEL_NAMES = tuple(f"{axis}{kind}" for kind in ("position", "rotation") for axis in "XYZ")
_CHANNEL_BY_LOWER = {name.lower(): name for name in _CHANNEL_NAMES}
_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}
_FRAMES_PATTERN = re.compile(r"^\s*frames\s*:\s*(\S+)\s*$", re.IGNORECASE)
_FRAME_TIME_PATTERN = re.compile(r"^\s*frame\s*time\s*:\s*(\S+)\s*$", re.IGNORECASE)


class BvhFormatError(UserInputError, ValueError):
    """A BVH text is malformed; the message names the source, the reason and often the line."""


@dataclass(frozen=True, eq=False)
class BvhJoint:
    """One joint: its parent's index (-1 for a root), OFFSET, channel names and End Site."""

    name: str
    parent: int
    offset: np.ndarray  # (3,) float64, in the parent's frame
    channels: tuple[str, ...]
    end_site: np.ndarray | None = None  # (3,) float64 or None

    def __post_init__(self) -> None:
        object.__setattr__(self, "offset", _vector3(self.offset, f"{self.name} offset"))
        if self.end_site is not None:
            object.__setattr__(self, "end_site", _vector3(self.end_site, f"{self.name} end site"))
        unknown = [name for name in self.channels if name not in _CHANNEL_NAMES]
        if unknown:
            raise ValueError(f"joint {self.name}: unknown channels {unknown}")


@dataclass(frozen=True, eq=False)
class BvhMotion:
    """A joint tree in depth-first file order and its channel values `(F, C)` per frame."""

    joints: tuple[BvhJoint, ...]
    frame_time: float
    channel_values: np.ndarray  # (F, C) float64, columns in joint order then channel order

    def __post_init__(self) -> None:
        values = np.asarray(self.channel_values, dtype=np.float64)
        object.__setattr__(self, "channel_values", values)
        if values.ndim != 2 or values.shape[1] != self.num_channels:
            raise ValueError(f"channel_values must be (F, {self.num_channels}), got {values.shape}")
        if not (math.isfinite(self.frame_time) and self.frame_time > 0):
            raise ValueError(f"frame_time must be positive, got {self.frame_time}")
        _check_depth_first(self.joints)

    @property
    def num_frames(self) -> int:
        return int(self.channel_values.shape[0])

    @property
    def num_channels(self) -> int:
        return sum(len(joint.channels) for joint in self.joints)

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(joint.name for joint in self.joints)

    @property
    def parents(self) -> tuple[int, ...]:
        return tuple(joint.parent for joint in self.joints)


def _vector3(values: object, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.shape != (3,):
        raise ValueError(f"{what} must have 3 values, got {array.shape}")
    return array


def _check_depth_first(joints: tuple[BvhJoint, ...]) -> None:
    """Channel columns follow the file's depth-first order, so the joint list must too."""
    open_chain: list[int] = []  # the path from a root to the previous joint
    for index, joint in enumerate(joints):
        while open_chain and open_chain[-1] != joint.parent:
            open_chain.pop()
        if joint.parent != -1 and not open_chain:
            raise ValueError(
                f"joint {index} ({joint.name}) does not follow its parent {joint.parent} in "
                "depth-first order"
            )
        open_chain.append(index)


# ----------------------------------------------------------------------------------- parsing


class _Tokens:
    """Whitespace tokens of the HIERARCHY section with their 1-based line numbers."""

    def __init__(self, lines: list[str], source_name: str) -> None:
        self.items = [
            (token, number + 1) for number, line in enumerate(lines) for token in line.split()
        ]
        self.position = 0
        self.source_name = source_name

    def error(self, reason: str, line: int | None = None) -> BvhFormatError:
        if line is None and self.position < len(self.items):
            line = self.items[self.position][1]
        where = f"line {line}: " if line is not None else ""
        return BvhFormatError(f"{self.source_name}: {where}{reason}")

    def next(self, what: str) -> tuple[str, int]:
        if self.position >= len(self.items):
            raise self.error(f"file ends inside HIERARCHY, expected {what} (truncated file?)")
        self.position += 1
        return self.items[self.position - 1]

    def peek(self) -> str | None:
        return self.items[self.position][0] if self.position < len(self.items) else None

    def expect(self, word: str) -> None:
        token, line = self.next(repr(word))
        if token != word:
            raise self.error(f"expected {word!r}, found {short_repr(token)}", line)

    def number(self, what: str) -> float:
        token, line = self.next(what)
        try:
            value = float(token)
        except ValueError:
            raise self.error(f"{what} is not a number: {short_repr(token)}", line) from None
        if not math.isfinite(value):
            raise self.error(f"{what} is not finite: {short_repr(token)}", line)
        return value


def _small_count(text: str) -> int | None:
    """An ASCII decimal count of at most 18 digits (int() of "²" or 5000 digits would raise)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _parse_channels(tokens: _Tokens) -> tuple[str, ...]:
    token, line = tokens.next("channel count")
    count = _small_count(token)
    if count is None:
        raise tokens.error(
            f"channel count is not a small non-negative integer: {short_repr(token)}", line
        )
    names = []
    for _ in range(count):
        name, line = tokens.next("channel name")
        if name.lower() not in _CHANNEL_BY_LOWER:
            raise tokens.error(f"unknown channel name {short_repr(name)}", line)
        names.append(_CHANNEL_BY_LOWER[name.lower()])
    return tuple(names)


def _parse_joint(tokens: _Tokens, parent: int, joints: list[BvhJoint]) -> None:
    """Parse one `ROOT|JOINT name { OFFSET .. CHANNELS .. children }` block into `joints`."""
    name, _ = tokens.next("joint name")
    tokens.expect("{")
    tokens.expect("OFFSET")
    offset = [tokens.number("OFFSET value") for _ in range(3)]
    channels: tuple[str, ...] = ()
    if tokens.peek() == "CHANNELS":
        tokens.next("CHANNELS")
        channels = _parse_channels(tokens)
    index = len(joints)
    joints.append(BvhJoint(name, parent, np.array(offset), channels))
    end_site = None
    while (keyword := tokens.next("JOINT, End Site or '}'"))[0] != "}":
        if keyword[0] == "JOINT":
            _parse_joint(tokens, index, joints)
        elif keyword[0] == "End" and end_site is None:
            if tokens.next("Site")[0].lower() != "site":
                raise tokens.error("expected 'Site' after 'End'")
            tokens.expect("{")
            tokens.expect("OFFSET")
            end_site = np.array([tokens.number("End Site OFFSET value") for _ in range(3)])
            tokens.expect("}")
        else:
            raise tokens.error(
                f"unexpected {short_repr(keyword[0])} in joint {short_repr(name)}", keyword[1]
            )
    joints[index] = BvhJoint(name, parent, np.array(offset), channels, end_site)


def _parse_hierarchy(lines: list[str], source_name: str) -> tuple[BvhJoint, ...]:
    tokens = _Tokens(lines, source_name)
    if tokens.peek() != "HIERARCHY":
        raise tokens.error("the file does not start with HIERARCHY", 1)
    tokens.next("HIERARCHY")
    joints: list[BvhJoint] = []
    while tokens.peek() is not None:
        token, line = tokens.next("ROOT")
        if token != "ROOT":
            raise tokens.error(f"expected ROOT, found {short_repr(token)}", line)
        _parse_joint(tokens, -1, joints)
    if not joints:
        raise tokens.error("HIERARCHY holds no joints")
    return tuple(joints)


def _header_value(
    lines: list[str], start: int, pattern: re.Pattern[str], what: str, source_name: str
) -> tuple[str, int]:
    """The value of a `Frames:` / `Frame Time:` line at or after `start` (blank lines skipped)."""
    index = start
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index >= len(lines):
        raise BvhFormatError(f"{source_name}: file ends before the {what!r} line (truncated file?)")
    match = pattern.match(lines[index])
    if match is None:
        found = short_repr(lines[index].strip())
        raise BvhFormatError(f"{source_name}: line {index + 1}: expected {what!r}, found {found}")
    return match.group(1), index + 1


def _parse_motion_header(
    lines: list[str], start: int, num_channels: int, source_name: str
) -> tuple[int, float, int]:
    """(num_frames, frame_time, first data line index) from the lines after MOTION."""
    frames_text, index = _header_value(lines, start, _FRAMES_PATTERN, "Frames:", source_name)
    time_text, data_start = _header_value(
        lines, index, _FRAME_TIME_PATTERN, "Frame Time:", source_name
    )
    num_frames = _small_count(frames_text)
    if num_frames is None:
        raise BvhFormatError(
            f"{source_name}: line {index}: bad frame count {short_repr(frames_text)}"
        )
    if num_frames == 0:
        raise BvhFormatError(f"{source_name}: line {index}: the file has zero frames")
    frame_time = _frame_time(time_text, data_start, source_name)
    _check_frame_budget(num_frames, num_channels, index, source_name)
    return num_frames, frame_time, data_start


def _frame_time(text: str, line: int, source_name: str) -> float:
    """The `Frame Time:` value, refused outside `MIN_FRAME_TIME_S`..`MAX_FRAME_TIME_S`."""
    try:
        frame_time = float(text)
    except ValueError:
        raise BvhFormatError(
            f"{source_name}: line {line}: bad frame time {short_repr(text)}"
        ) from None
    if not MIN_FRAME_TIME_S <= frame_time <= MAX_FRAME_TIME_S:  # NaN fails too
        raise BvhFormatError(
            f"{source_name}: line {line}: implausible frame time {short_repr(text)}: accepted "
            f"{MIN_FRAME_TIME_S:g} to {MAX_FRAME_TIME_S:g} s per frame "
            f"({1 / MAX_FRAME_TIME_S:g} to {1 / MIN_FRAME_TIME_S:g} fps)"
        )
    return frame_time


def _check_frame_budget(num_frames: int, num_channels: int, line: int, source_name: str) -> None:
    """Refuse a declared frames x channels over `MAX_FRAME_VALUES` before reading any value."""
    size = num_frames * max(num_channels, 1)
    if size > MAX_FRAME_VALUES:
        raise BvhFormatError(
            f"{source_name}: line {line}: {num_frames} frames x {num_channels} channels = "
            f"{size:,} values, over the budget of {MAX_FRAME_VALUES:,} per file"
        )


def _first_bad_value(lines: list[str], start: int, finite: bool) -> tuple[int, str]:
    """Line number and text of the first non-numeric (or, with `finite`, NaN/inf) value."""
    for number in range(start + 1, len(lines) + 1):
        for token in lines[number - 1].split():
            try:
                value = float(token)
            except ValueError:
                return number, token
            if finite and not math.isfinite(value):
                return number, token
    return len(lines), ""


def _not_a_number(lines: list[str], start: int, source_name: str) -> BvhFormatError | None:
    line, token = _first_bad_value(lines, start, finite=False)
    if not token:
        return None
    return BvhFormatError(f"{source_name}: line {line}: not a number: {short_repr(token)}")


def _check_count(lines: list[str], start: int, shape: tuple[int, int], source_name: str) -> None:
    """Refuse fewer or more values than frames x channels (a non-number is named first)."""
    found = sum(len(lines[index].split()) for index in range(start, len(lines)))
    expected = shape[0] * shape[1]
    if found != expected:
        problem = "fewer" if found < expected else "more"
        hint = " (truncated file?)" if found < expected else ""
        raise _not_a_number(lines, start, source_name) or BvhFormatError(
            f"{source_name}: {problem} values than frames x channels{hint}: found {found}, "
            f"expected {shape[0]} x {shape[1]} = {expected}"
        )


def _store(values: np.ndarray, filled: int, pending: list[str]) -> int:
    """Convert `pending` into `values[filled:]` and empty it; ValueError on a non-number."""
    values[filled : filled + len(pending)] = np.array(pending, dtype=np.float64)
    filled += len(pending)
    pending.clear()
    return filled


def _parse_values(
    lines: list[str], start: int, shape: tuple[int, int], source_name: str
) -> np.ndarray:
    """The `(F, C)` values after the header, converted `_CHUNK_TOKENS` at a time."""
    _check_count(lines, start, shape, source_name)
    values = np.empty(shape[0] * shape[1])
    filled, pending = 0, []
    try:
        for index in range(start, len(lines)):
            pending += lines[index].split()
            if len(pending) >= _CHUNK_TOKENS:
                filled = _store(values, filled, pending)
        _store(values, filled, pending)
    except ValueError:
        raise _not_a_number(lines, start, source_name) or BvhFormatError(
            f"{source_name}: a value is not a number"
        ) from None
    if not np.isfinite(values).all():
        line, token = _first_bad_value(lines, start, finite=True)
        raise BvhFormatError(
            f"{source_name}: line {line}: NaN or infinite value {short_repr(token)}"
        )
    return values.reshape(shape)


def parse_bvh(text: str, source_name: str = "<bvh>") -> BvhMotion:
    """Parse BVH text (any line endings, tabs or spaces) into a `BvhMotion`."""
    lines = text.splitlines()
    motion_index = next(
        (i for i, line in enumerate(lines) if line.strip().upper() == "MOTION"), None
    )
    if motion_index is None:
        raise BvhFormatError(f"{source_name}: no MOTION section (truncated file?)")
    try:
        joints = _parse_hierarchy(lines[:motion_index], source_name)
    except RecursionError:
        raise BvhFormatError(f"{source_name}: HIERARCHY is nested too deeply") from None
    num_channels = sum(len(joint.channels) for joint in joints)
    num_frames, frame_time, data_start = _parse_motion_header(
        lines, motion_index + 1, num_channels, source_name
    )
    values = _parse_values(lines, data_start, (num_frames, num_channels), source_name)
    return BvhMotion(joints, frame_time, values)


def read_bvh(path: str | Path) -> BvhMotion:
    """Read and parse a BVH file; undecodable bytes or over `MAX_FILE_BYTES` raise too."""
    size = Path(path).stat().st_size
    if size > MAX_FILE_BYTES:
        raise BvhFormatError(f"{path}: {size:,} bytes, over the budget of {MAX_FILE_BYTES:,}")
    try:
        text = Path(path).read_text(encoding="utf-8-sig", errors="strict")
    except UnicodeDecodeError as error:
        raise BvhFormatError(f"{path}: not a text file ({error})") from None
    return parse_bvh(text, str(path))


# ----------------------------------------------------------------------------------- writing


def _format_joint(motion: BvhMotion, index: int, depth: int, out: list[str]) -> None:
    joint = motion.joints[index]
    pad = "\t" * depth
    keyword = "ROOT" if joint.parent < 0 else "JOINT"
    out += [f"{pad}{keyword} {joint.name}", f"{pad}{{", f"{pad}\tOFFSET {_numbers(joint.offset)}"]
    out.append(f"{pad}\tCHANNELS {len(joint.channels)} {' '.join(joint.channels)}".rstrip())
    for child, other in enumerate(motion.joints):
        if other.parent == index:
            _format_joint(motion, child, depth + 1, out)
    if joint.end_site is not None:
        out += [f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {_numbers(joint.end_site)}"]
        out.append(f"{pad}\t}}")
    out.append(f"{pad}}}")


def _numbers(values: np.ndarray) -> str:
    return " ".join(f"{value:.6f}" for value in values)


def format_bvh(motion: BvhMotion) -> str:
    """BVH text of a motion: tab-indented hierarchy, one line of values per frame."""
    out = ["HIERARCHY"]
    for index, joint in enumerate(motion.joints):
        if joint.parent < 0:
            _format_joint(motion, index, 0, out)
    out += ["MOTION", f"Frames: {motion.num_frames}", f"Frame Time: {motion.frame_time:.8f}"]
    row_format = " ".join(["%.6f"] * motion.num_channels)
    out += [row_format % tuple(row) for row in motion.channel_values]
    return "\n".join(out) + "\n"


def write_bvh(motion: BvhMotion, path: str | Path) -> None:
    Path(path).write_text(format_bvh(motion), encoding="utf-8")


# ----------------------------------------------------------------------- rotations and FK


def _axis_rotations(axis: int, angles_rad: np.ndarray) -> np.ndarray:
    """Rotation matrices `(F, 3, 3)` of angles `(F,)` about axis 0/1/2."""
    cos, sin = np.cos(angles_rad), np.sin(angles_rad)
    matrices = np.zeros(angles_rad.shape + (3, 3))
    first, second = (axis + 1) % 3, (axis + 2) % 3  # cyclic, so Ry is [[c, 0, s], ...]
    matrices[:, axis, axis] = 1.0
    matrices[:, first, first], matrices[:, first, second] = cos, -sin
    matrices[:, second, first], matrices[:, second, second] = sin, cos
    return matrices


def _order_axes(order: str) -> tuple[int, ...]:
    axes = tuple(_AXIS_INDEX.get(letter, -1) for letter in order.upper())
    if len(axes) != 3 or sorted(axes) != [0, 1, 2]:
        raise ValueError(f"Euler order must be a permutation of XYZ, got {order!r}")
    return axes


def euler_to_matrix(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """Rotations `(F, 3, 3)` from intrinsic Euler angles `(F, 3)` in degrees.

    Column k of `angles_deg` is the angle about axis `order[k]`, and the matrix is the product in
    that order: "ZXY" gives Rz(a0) @ Rx(a1) @ Ry(a2), as a BVH "Zrotation Xrotation Yrotation".
    """
    angles = np.radians(np.asarray(angles_deg, dtype=np.float64).reshape(-1, 3))
    matrices = np.broadcast_to(np.eye(3), (angles.shape[0], 3, 3))
    for column, axis in enumerate(_order_axes(order)):
        matrices = matrices @ _axis_rotations(axis, angles[:, column])
    return matrices


def matrix_to_euler(matrices: np.ndarray, order: str) -> np.ndarray:
    """Intrinsic Euler angles `(F, 3)` in degrees of rotations `(F, 3, 3)`; inverse of the above.

    For R = Ri(a) Rj(b) Rk(c) with sign s = +1 for cyclic (i, j, k), -1 otherwise:
    R[i, k] = s sin b, R[j, k] = -s sin a cos b, R[k, k] = cos a cos b, R[i, j] = -s cos b sin c,
    R[i, i] = cos b cos c. At gimbal lock (cos b ~ 0) only a + s' c is defined: c is set to 0
    and a read from the column of axis j, which R = Ri(a) Rj(b) leaves as Ri(a) e_j.
    """
    R = np.asarray(matrices, dtype=np.float64).reshape(-1, 3, 3)
    i, j, k = _order_axes(order)
    sign = 1.0 if (j - i) % 3 == 1 else -1.0
    cos_b = np.hypot(R[:, i, i], R[:, i, j])
    b = np.arctan2(sign * R[:, i, k], cos_b)
    a = np.arctan2(-sign * R[:, j, k], R[:, k, k])
    c = np.arctan2(-sign * R[:, i, j], R[:, i, i])
    locked = cos_b < 1e-9
    a = np.where(locked, np.arctan2(sign * R[:, k, j], R[:, j, j]), a)
    c = np.where(locked, 0.0, c)
    return np.degrees(np.stack([a, b, c], axis=-1))


def _joint_transform(joint: BvhJoint, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local rotation `(F, 3, 3)` and translation `(F, 3)` of a joint from its channel values."""
    num_frames = values.shape[0]
    rotation = np.broadcast_to(np.eye(3), (num_frames, 3, 3))
    has_position = any(name.endswith("position") for name in joint.channels)
    translation = (
        np.zeros((num_frames, 3)) if has_position else np.tile(joint.offset, (num_frames, 1))
    )
    for column, name in enumerate(joint.channels):
        axis = _AXIS_INDEX[name[0]]
        if name.endswith("rotation"):
            rotation = rotation @ _axis_rotations(axis, np.radians(values[:, column]))
        else:
            translation[:, axis] = values[:, column]
    return rotation, translation


def global_transforms(motion: BvhMotion) -> tuple[np.ndarray, np.ndarray]:
    """Global rotations `(F, J, 3, 3)` and positions `(F, J, 3)` of every joint, file units."""
    num_frames, num_joints = motion.num_frames, len(motion.joints)
    rotations = np.empty((num_frames, num_joints, 3, 3))
    positions = np.empty((num_frames, num_joints, 3))
    column = 0
    for index, joint in enumerate(motion.joints):
        values = motion.channel_values[:, column : column + len(joint.channels)]
        column += len(joint.channels)
        local_rotation, translation = _joint_transform(joint, values)
        if joint.parent < 0:
            rotations[:, index], positions[:, index] = local_rotation, translation
            continue
        parent_rotation = rotations[:, joint.parent]
        rotations[:, index] = parent_rotation @ local_rotation
        positions[:, index] = positions[:, joint.parent] + np.einsum(
            "fab,fb->fa", parent_rotation, translation
        )
    return rotations, positions


def forward_kinematics(motion: BvhMotion) -> np.ndarray:
    """Global joint positions `(F, J, 3)` in the file's axes and units."""
    return global_transforms(motion)[1]
