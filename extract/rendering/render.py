"""Skeleton renderer: canonical-skeleton motion to mp4 videos and PNG contact sheets.

Owns how people look at motion (`(T, J, 3)` positions on `storage.skeleton`, metres, y up, the
subject's left at +x). Frames are drawn with OpenCV (anti-aliased, sub-pixel lines) and streamed
one at a time into an ffmpeg/libx264 process through ffmpeg-python, so memory stays flat however
long the clip is. Each panel has a perspective camera at a fixed 3/4 front view that follows a
smoothed pelvis path on the ground plane only: the subject stays in frame while the 1 m floor grid
slides underneath, which makes root motion and foot contact (feet meet their floor shadow) easy
to see. Bones are coloured by body part: left side blue, right side red, torso grey. Several
panels (e.g. source vs stylized) render side by side and must share their frame count. The
camera lives in `extract.rendering.camera` and the ffmpeg writer in
`extract.rendering.video_writer`; their public names are re-exported here.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from extract.rendering.camera import CAMERA_AZIMUTH_DEG as CAMERA_AZIMUTH_DEG
from extract.rendering.camera import CAMERA_DISTANCE_M as CAMERA_DISTANCE_M
from extract.rendering.camera import CAMERA_ELEVATION_DEG as CAMERA_ELEVATION_DEG
from extract.rendering.camera import CAMERA_TARGET_HEIGHT_M as CAMERA_TARGET_HEIGHT_M
from extract.rendering.camera import FOLLOW_MAX_LAG_M as FOLLOW_MAX_LAG_M
from extract.rendering.camera import FOLLOW_SIGMA_S as FOLLOW_SIGMA_S
from extract.rendering.camera import NEAR_PLANE_M as NEAR_PLANE_M
from extract.rendering.camera import VIEW_HALF_EXTENT_M as VIEW_HALF_EXTENT_M
from extract.rendering.camera import (
    Camera,
    _camera_to_pixels,
    _clip_to_near_plane,
    follow_targets,
    make_camera,
)
from extract.rendering.video_writer import X264_PRESET as X264_PRESET
from extract.rendering.video_writer import FfmpegVideoWriter, RenderError, require_ffmpeg
from storage.skeleton import BODY_PARTS, BONES, CANONICAL_FPS, JOINT_INDEX, JOINT_NAMES, NUM_JOINTS

logger = logging.getLogger(__name__)

# Colours are BGR (OpenCV's order). Left side blue-ish, right side red-ish, torso grey.
Color = tuple[int, int, int]
PART_COLORS_BGR: dict[str, Color] = {
    "torso": (105, 105, 105),
    "left_arm": (235, 135, 30),
    "left_leg": (185, 90, 20),
    "right_arm": (45, 55, 230),
    "right_leg": (30, 30, 170),
}
BACKGROUND_BGR = (244, 242, 238)
GRID_BGR = (150, 150, 150)
SHADOW_BGR = (212, 210, 206)
TEXT_BGR = (40, 40, 40)
SEPARATOR_BGR = (60, 60, 60)

GRID_RADIUS_M = 6  # grid lines drawn this far around the target, fading out towards the edge

CONTACT_HEADER_PX = 36
_SUBPIXEL_SHIFT = 4  # cv2 drawing with 4 fractional bits: smooth motion at sub-pixel speeds
_SUBPIXEL_SCALE = 1 << _SUBPIXEL_SHIFT
JOINT_COLORS_BGR: tuple[Color, ...] = tuple(
    next(PART_COLORS_BGR[part] for part, names in BODY_PARTS.items() if name in names)
    for name in JOINT_NAMES
)
_PELVIS = JOINT_INDEX["pelvis"]
_BONE_CHILDREN = np.asarray(BONES.children)
_BONE_PARENTS = np.asarray(BONES.parents)


@dataclass(frozen=True, eq=False)
class SkeletonPanel:
    """One panel of a render: canonical-skeleton positions `(T, J, 3)` in metres and a title."""

    positions: np.ndarray
    title: str

    def __post_init__(self) -> None:
        positions = np.asarray(self.positions, dtype=np.float64)
        if positions.ndim != 3 or positions.shape[1:] != (NUM_JOINTS, 3):
            raise ValueError(
                f"panel {self.title!r}: positions must have shape (T, {NUM_JOINTS}, 3), "
                f"got {np.shape(self.positions)}"
            )
        if positions.shape[0] < 1:
            raise ValueError(f"panel {self.title!r} has zero frames")
        if not np.isfinite(positions).all():
            raise ValueError(f"panel {self.title!r}: positions hold NaN/inf values")
        object.__setattr__(self, "positions", positions)

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])


@dataclass(frozen=True)
class RenderResult:
    """Where a video was written and what it holds."""

    path: Path
    num_frames: int
    fps: float
    width: int
    height: int


def _to_fixed_point(pixels: np.ndarray) -> np.ndarray:
    """Pixel coordinates `(..., 2)` to cv2's fixed-point integers (`_SUBPIXEL_SHIFT` bits)."""
    limit = 1 << 20  # far outside any frame, well inside int32 after the shift
    return np.round(np.clip(pixels, -limit, limit) * _SUBPIXEL_SCALE).astype(np.int32)


def _draw_segments(
    canvas: np.ndarray,
    camera: Camera,
    starts: np.ndarray,
    ends: np.ndarray,
    colors: Sequence[Color],
    thickness: int,
) -> None:
    """Draw world segments `(N, 3)` in order, cut at the near plane, anti-aliased."""
    cut_starts, cut_ends, kept = _clip_to_near_plane(
        camera.to_camera(starts), camera.to_camera(ends)
    )
    pixel_starts = _to_fixed_point(_camera_to_pixels(camera, cut_starts))
    pixel_ends = _to_fixed_point(_camera_to_pixels(camera, cut_ends))
    for index, start, end in zip(kept, pixel_starts, pixel_ends, strict=True):
        _line(canvas, start, end, colors[index], thickness)


def _line(
    canvas: np.ndarray, start: np.ndarray, end: np.ndarray, color: Color, thickness: int
) -> None:
    """Anti-aliased line between fixed-point pixel positions `(2,)`."""
    cv2.line(canvas, tuple(start), tuple(end), color, thickness, cv2.LINE_AA, _SUBPIXEL_SHIFT)


def _grid_segments(center_xz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1 m floor grid around `center_xz` as segments `(N, 3)` and fade weights `(N,)` in [0, 1].

    Lines sit on whole metres (so they slide as the camera follows); each 1 m piece fades with
    its distance from the centre, so pieces entering or leaving the drawn square never pop.
    """
    lines, pieces = np.meshgrid(
        np.arange(-GRID_RADIUS_M, GRID_RADIUS_M + 1.0),
        np.arange(-GRID_RADIUS_M, GRID_RADIUS_M + 0.0),
    )
    lines, pieces = lines.ravel(), pieces.ravel()
    zeros = np.zeros_like(lines)
    base = np.array([math.floor(center_xz[0]), 0.0, math.floor(center_xz[1])])
    starts = base + np.concatenate(
        [np.stack([lines, zeros, pieces], -1), np.stack([pieces, zeros, lines], -1)]
    )  # lines of constant x, then lines of constant z
    ends = starts + np.repeat([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], lines.size, axis=0)
    distance = np.linalg.norm((starts + ends)[:, [0, 2]] / 2.0 - center_xz, axis=-1)
    fade = np.clip(1.0 - distance / (GRID_RADIUS_M - 0.5), 0.0, 1.0)
    return starts, ends, fade


def _blend(weight: float, color: Color) -> Color:
    return tuple(
        round(back + weight * (front - back))
        for back, front in zip(BACKGROUND_BGR, color, strict=True)
    )


def _draw_grid(canvas: np.ndarray, camera: Camera, center_xz: np.ndarray, thickness: int) -> None:
    starts, ends, fade = _grid_segments(center_xz)
    visible = fade > 0.02
    colors = [_blend(float(weight), GRID_BGR) for weight in fade[visible]]
    _draw_segments(canvas, camera, starts[visible], ends[visible], colors, thickness)


def _draw_skeleton(canvas: np.ndarray, camera: Camera, joints: np.ndarray) -> None:
    """Floor shadow, then bones far to near (each followed by its child joint's dot)."""
    scale = canvas.shape[0] / 540.0
    bone_thickness = max(2, round(5 * scale))
    joint_radius = max(2, round(5 * scale)) * _SUBPIXEL_SCALE
    shadow = joints * np.array([1.0, 0.0, 1.0])  # straight down onto the floor
    colors, thickness = [SHADOW_BGR] * len(_BONE_CHILDREN), max(1, round(bone_thickness * 0.7))
    _draw_segments(canvas, camera, shadow[_BONE_PARENTS], shadow[_BONE_CHILDREN], colors, thickness)
    depth = camera.to_camera(joints)[:, 2]  # (J,)
    pixels = _to_fixed_point(camera.project(joints))  # (J, 2)
    _draw_joint(canvas, pixels[_PELVIS], JOINT_COLORS_BGR[_PELVIS], joint_radius)
    bone_depth = (depth[_BONE_CHILDREN] + depth[_BONE_PARENTS]) / 2.0
    for bone in np.argsort(-bone_depth, kind="stable"):
        child, parent = _BONE_CHILDREN[bone], _BONE_PARENTS[bone]
        _line(canvas, pixels[parent], pixels[child], JOINT_COLORS_BGR[child], bone_thickness)
        _draw_joint(canvas, pixels[child], JOINT_COLORS_BGR[child], joint_radius)


def _draw_joint(canvas: np.ndarray, pixel: np.ndarray, color: Color, radius: int) -> None:
    center = tuple(pixel)
    cv2.circle(canvas, center, radius, color, -1, cv2.LINE_AA, _SUBPIXEL_SHIFT)
    cv2.circle(canvas, center, radius // 2, (255, 255, 255), -1, cv2.LINE_AA, _SUBPIXEL_SHIFT)


def _put_text(
    canvas: np.ndarray, text: str, origin: tuple[int, int], font_scale: float, color: Color
) -> None:
    thickness = max(1, round(2.2 * font_scale))
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(canvas, text, origin, font, font_scale, color, thickness, cv2.LINE_AA)


def _draw_text(canvas: np.ndarray, title: str, counter: str, legend: bool) -> None:
    """Title top left, frame/time counter bottom left, left/right colour legend top right."""
    height, width = canvas.shape[:2]
    scale = max(height / 540.0, 0.75)
    margin, line = round(12 * scale), round(22 * scale)
    _put_text(canvas, title, (margin, margin + line), 0.7 * scale, TEXT_BGR)
    _put_text(canvas, counter, (margin, height - margin), 0.55 * scale, TEXT_BGR)
    if legend:
        _draw_legend(canvas, (width - margin, margin + line), 0.5 * scale, vertical=True)


def _draw_legend(
    canvas: np.ndarray, top_right: tuple[int, int], font_scale: float, vertical: bool
) -> None:
    """'left' in the left-side colour and 'right' in the right-side colour, right-aligned."""
    right_edge, baseline = top_right
    step = round(44 * font_scale)
    for row, (label, part) in enumerate((("right", "right_arm"), ("left", "left_arm"))):
        text_width = round(len(label) * 22 * font_scale)
        if vertical:
            origin = (right_edge - text_width, baseline + (1 - row) * step)
        else:
            origin = (right_edge - text_width - row * round(110 * font_scale), baseline)
        _put_text(canvas, label, origin, font_scale, PART_COLORS_BGR[part])


def draw_panel(
    canvas: np.ndarray,
    joints: np.ndarray,
    target_xz: np.ndarray,
    title: str,
    counter: str,
    *,
    legend: bool = True,
) -> Camera:
    """Draw one skeleton pose `(J, 3)` into `canvas` `(H, W, 3)` uint8; returns the camera used."""
    height, width = canvas.shape[:2]
    camera = make_camera(target_xz, width, height)
    canvas[:] = BACKGROUND_BGR
    _draw_grid(canvas, camera, np.asarray(target_xz, dtype=np.float64), max(1, round(height / 400)))
    _draw_skeleton(canvas, camera, joints)
    _draw_text(canvas, title, counter, legend)
    return camera


def panel_bounds(width: int, num_panels: int) -> list[tuple[int, int]]:
    """Column ranges `[x0, x1)` of `num_panels` side-by-side panels filling `width` pixels."""
    edges = [round(index * width / num_panels) for index in range(num_panels + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _check_inputs(panels: Sequence[SkeletonPanel], fps: float, size: tuple[int, int]) -> int:
    """Validate a render request; returns the shared frame count."""
    if not panels:
        raise ValueError("render needs at least one panel")
    if len({panel.num_frames for panel in panels}) > 1:
        listing = ", ".join(f"{panel.title!r}: {panel.num_frames}" for panel in panels)
        raise ValueError(f"all panels must have the same number of frames, got {listing}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be positive and finite, got {fps}")
    width, height = size
    if width % 2 or height % 2 or height < 64 or width < 64 * len(panels):
        raise ValueError(
            f"size must be even, at least 64 px high and 64 px wide per panel; "
            f"got {width}x{height} for {len(panels)} panels"
        )
    return panels[0].num_frames


def _iter_frames(
    panels: Sequence[SkeletonPanel], fps: float, size: tuple[int, int]
) -> Iterator[np.ndarray]:
    """Yield each composed frame `(H, W, 3)` uint8 BGR; the same buffer is reused every frame."""
    width, height = size
    bounds = panel_bounds(width, len(panels))
    targets = [follow_targets(panel.positions, fps) for panel in panels]
    canvases = [np.empty((height, end - start, 3), np.uint8) for start, end in bounds]
    frame = np.empty((height, width, 3), np.uint8)
    num_frames = panels[0].num_frames
    for index in range(num_frames):
        counter = f"frame {index + 1}/{num_frames}   {index / fps:6.2f} s"
        for panel, target, canvas, (start, end) in zip(
            panels, targets, canvases, bounds, strict=True
        ):
            draw_panel(canvas, panel.positions[index], target[index], panel.title, counter)
            frame[:, start:end] = canvas
        for start, _ in bounds[1:]:
            frame[:, start - 1 : start + 1] = SEPARATOR_BGR
        yield frame


def render_skeleton_video(
    panels: Sequence[SkeletonPanel],
    fps: float,
    out_path: Path,
    *,
    size: tuple[int, int] = (960, 540),
    show_progress: bool = False,
    crf: int = 20,
) -> RenderResult:
    """Render panels side by side into an H.264 mp4 at `out_path`, streaming frame by frame.

    The video is written under a temporary name next to `out_path` and renamed when ffmpeg has
    finished, so a failed render never leaves a half-written file under the final name.
    """
    panels = tuple(panels)
    num_frames = _check_inputs(panels, fps, size)
    frames = _iter_frames(panels, fps, size)
    return write_video(
        frames, num_frames, fps, size, out_path, show_progress=show_progress, crf=crf
    )


def write_video(
    frames: Iterable[np.ndarray],
    num_frames: int,
    fps: float,
    size: tuple[int, int],
    out_path: Path,
    *,
    show_progress: bool = False,
    crf: int = 20,
) -> RenderResult:
    """Encode BGR frames `(H, W, 3)` to an H.264 mp4 under a temporary name, then rename it."""
    require_ffmpeg()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.stem}.partial{out_path.suffix}")
    started = time.perf_counter()
    writer = FfmpegVideoWriter(partial, size, fps, crf)
    written = 0
    try:
        for frame in tqdm(frames, total=num_frames, disable=not show_progress, unit="frame"):
            writer.write(frame)
            written += 1
        writer.close()
    except BaseException:
        writer.abort()
        partial.unlink(missing_ok=True)
        raise
    partial.replace(out_path)
    rate = written / max(time.perf_counter() - started, 1e-9)
    logger.info("rendered %d frames to %s at %.0f frames/s", written, out_path, rate)
    return RenderResult(out_path, written, float(fps), size[0], size[1])


def render_contact_sheet(
    positions: np.ndarray,
    out_png: Path,
    num_frames: int = 8,
    title: str = "",
    *,
    cell_size: tuple[int, int] = (240, 320),
    fps: float = CANONICAL_FPS,
) -> Path:
    """Write a PNG strip of `num_frames` evenly spaced poses of positions `(T, J, 3)`.

    Uses the same camera and drawing as the videos. The image is `num_frames * cell_width` wide
    and `cell_height + CONTACT_HEADER_PX` high (the header holds `title`); a clip shorter than
    `num_frames` gives one cell per frame. `fps` only sets the following camera's smoothing and
    the time labels.
    """
    panel = SkeletonPanel(positions, title)
    cell_width, cell_height = cell_size
    count = max(1, min(num_frames, panel.num_frames))
    indices = np.round(np.linspace(0, panel.num_frames - 1, count)).astype(int)
    targets = follow_targets(panel.positions, fps)
    sheet = np.full(
        (cell_height + CONTACT_HEADER_PX, count * cell_width, 3), BACKGROUND_BGR, np.uint8
    )
    canvas = np.empty((cell_height, cell_width, 3), np.uint8)
    for cell, index in enumerate(indices):
        label = f"frame {index}  {index / fps:.2f} s"
        draw_panel(canvas, panel.positions[index], targets[index], "", label, legend=False)
        sheet[CONTACT_HEADER_PX:, cell * cell_width : (cell + 1) * cell_width] = canvas
        if cell:
            sheet[:, cell * cell_width] = SEPARATOR_BGR
    _put_text(sheet, title, (10, 26), 0.7, TEXT_BGR)
    _draw_legend(sheet, (sheet.shape[1] - 10, 26), 0.6, vertical=False)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out_png), sheet):
        raise RenderError(f"could not write contact sheet PNG {out_png}")
    return out_png
