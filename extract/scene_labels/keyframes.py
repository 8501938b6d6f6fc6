"""Keyframes of a clip for scene labelling: when, decoding them, checking them, hiding the person.

Owns the frames a scene label is computed from. `keyframe_times` spreads N times evenly over
the clip (at the centres of N equal parts, so never on a cut at either end); `decode_keyframe`
asks ffmpeg for the frame at a time (seeking, so one frame costs one short decode, not the
whole video) and shrinks it to `long_side`; `frame_problem` refuses black, blank (one flat
colour) and tiny frames with a named reason; `person_box` finds the tracked person in the raw
pose track's image landmarks at that time (nearest detected frame) and `hide_person` blurs or
masks that box so the label describes the place, not the pose. Keyframes are stored as JPEG
(`encode_jpeg`), and labelling always reads them back from those bytes, so a clip labelled
from its video and later from the stored keyframes gets the same input.
"""

from __future__ import annotations

import io
import subprocess
from enum import StrEnum
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from storage.video_records import PoseTrack

MIN_SIDE_PX = 32  # CLIP sees 224 px; below this there is no scene to see
BLACK_MEAN = 10.0  # mean luminance (0-255) below which a frame is black
BLANK_STD = 3.0  # luminance standard deviation below which a frame is one flat colour
BOX_MARGIN = 0.15  # the person box grows by this fraction of its size on every side
MIN_LANDMARK_VISIBILITY = 0.3
JPEG_QUALITY = 90


class PersonMode(StrEnum):
    NONE = "none"
    BLUR = "blur"
    MASK = "mask"


class KeyframeError(RuntimeError):
    """A keyframe could not be decoded; `kind` is a stable reason for the failures table."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def keyframe_times(start_time_s: float, num_frames: int, fps: float, count: int) -> list[float]:
    """`count` times (s) at the centres of `count` equal parts of the clip."""
    duration_s = num_frames / fps
    return [round(start_time_s + duration_s * (k + 0.5) / count, 4) for k in range(count)]


def decode_keyframe(path: str | Path, time_s: float, long_side: int) -> Image.Image:
    """The RGB frame shown at `time_s`, its longer side at most `long_side` pixels."""
    command = [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
        "-ss", f"{max(time_s, 0.0):.4f}", "-i", str(path),
        "-frames:v", "1", "-f", "image2pipe", "-c:v", "bmp", "pipe:",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, timeout=120, check=False)
    if result.returncode != 0 or not result.stdout:
        detail = result.stderr.decode("utf-8", errors="replace").strip()[-300:]
        raise KeyframeError("NoFrame", f"{path}: no frame at {time_s:.2f} s ({detail or 'end'})")
    image = Image.open(io.BytesIO(result.stdout)).convert("RGB")
    image.thumbnail((long_side, long_side), Image.Resampling.BICUBIC)
    return image


def frame_problem(image: Image.Image) -> str | None:
    """`TinyFrame`, `BlackFrame` or `BlankFrame` when the frame shows no usable scene."""
    if min(image.size) < MIN_SIDE_PX:
        return "TinyFrame"
    luminance = np.asarray(image.convert("L"), dtype=np.float32)  # (H, W)
    if luminance.mean() < BLACK_MEAN:
        return "BlackFrame"
    if luminance.std() < BLANK_STD:
        return "BlankFrame"
    return None


def person_box(track: PoseTrack, time_s: float) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) in [0, 1] around the person at `time_s`; None if never detected."""
    detected = np.flatnonzero(track.detected)
    if detected.size == 0:
        return None
    wanted = round(time_s * track.fps) - track.start_frame
    frame = int(detected[np.argmin(np.abs(detected - wanted))])
    points = track.image_landmarks[frame, :, :2]  # (33, 2) normalised x, y
    visible = track.visibility[frame] >= MIN_LANDMARK_VISIBILITY
    points = points[visible] if visible.sum() >= 4 else points
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    margin_x, margin_y = (x1 - x0) * BOX_MARGIN, (y1 - y0) * BOX_MARGIN
    box = (x0 - margin_x, y0 - margin_y, x1 + margin_x, y1 + margin_y)
    return tuple(float(np.clip(value, 0.0, 1.0)) for value in box)


def hide_person(
    image: Image.Image, box: tuple[float, float, float, float] | None, mode: PersonMode
) -> Image.Image:
    """A copy of `image` with the box blurred (strongly) or filled with the frame's mean colour."""
    mode = PersonMode(mode)
    if box is None or mode is PersonMode.NONE:
        return image
    width, height = image.size
    pixels = (
        int(box[0] * width),
        int(box[1] * height),
        max(int(box[0] * width) + 1, int(np.ceil(box[2] * width))),
        max(int(box[1] * height) + 1, int(np.ceil(box[3] * height))),
    )
    result = image.copy()
    if mode is PersonMode.MASK:
        mean_colour = tuple(int(c) for c in np.asarray(image).reshape(-1, 3).mean(axis=0))
        result.paste(mean_colour, pixels)
        return result
    region = image.crop(pixels)
    radius = max(4.0, 0.25 * min(region.size))  # wide enough to erase limbs and clothes
    result.paste(region.filter(ImageFilter.GaussianBlur(radius)), pixels[:2])
    return result


def encode_jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def decode_jpeg(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")
