"""Identity checks on pose tracks: cut a track where the tracked pose changes person.

Serves the poses-table rule "a track never splices two people" where frame-to-frame gates
cannot: when two people cross, MediaPipe's carried region of interest can slide from one onto
the other over several frames, each step small. Measured on the sample footage, the slide shows
as a step, over about half a second, in two of three cues: the colour of the chest, the colour
of both thighs or both shins, and the body scale (pixels per world metre of the least
foreshortened trunk or leg bone; the pose then spans two people at different depths).
`appearance_signature` summarises a detection's colours while the frame is at hand (Lab
quartiles of five regions); `split_identity_switches` runs after a shot: at each split point of
a track it compares the medians of the detections in the window before and after, and where at
least `switch_min_votes` cues step past their thresholds it drops that stretch and splits the
track there; so does a detection whose scale briefly jumps above both neighbours. A "snap" (a
track ending where another starts within `snap_gap_s`, close by:
the tracker refused to link them) also marks an identity break, and a piece bounded by breaks
at both ends and shorter than `max_chimera_s` (a pose spanning two people, e.g. vtest.avi
frames 556-574) is dropped. The thresholds are `TrackingConfig` fields. Two people dressed
alike at the same depth stay indistinguishable to these cues.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from extract.video.pose_tracking import PoseDetection, TrackBuilder, TrackingConfig

# Landmark indices (MediaPipe order): shoulders, hips, knees, ankles.
_SHOULDERS, _HIPS, _KNEES, _ANKLES = (11, 12), (23, 24), (25, 26), (27, 28)
NUM_REGIONS = 5  # chest, left thigh, right thigh, left shin, right shin
_QUARTILES = (25, 50, 75)
_LAB_WEIGHTS = np.array([0.5, 1.0, 1.0], np.float32)  # lightness counts half: shade, exposure
_MAX_REGION_PIXELS = 256  # pixels sampled per region (a stride over larger regions)
_MIN_REGION_PIXELS = 6


def appearance_signature(frame: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Colour summary of one person: (5, 3, 3) float32, Lab quartiles per region, NaN where a
    region is off-frame or too small.

    frame: (H, W, 3) uint8 RGB; pixels: (33, 2) landmark positions in pixels. Regions: the chest
    (15-60 % of the way from the shoulders to the hips, the middle 70 % across, clear of the
    belt line and of arms hanging at the sides), then each thigh and each shin (a band along the
    middle 60 % of the bone, 30 % of its length wide).
    """
    polygons = _region_polygons(pixels)  # (5, 4, 2)
    height, width = frame.shape[:2]
    lows = np.maximum(np.floor(polygons.min(axis=1)).astype(int), 0)  # (5, 2) x, y
    highs = np.minimum(np.ceil(polygons.max(axis=1)).astype(int), (width, height))  # (5, 2)
    areas = np.clip(highs - lows, 0, None).prod(axis=1)  # (5,)
    strides = np.maximum(np.sqrt(areas / _MAX_REGION_PIXELS).astype(int), 1)  # (5,)
    corners = np.round((polygons - lows[:, None]) / strides[:, None, None]).astype(np.int32)
    signature = np.full((NUM_REGIONS, len(_QUARTILES), 3), np.nan, np.float32)
    for row, ((x0, y0), (x1, y1), stride) in enumerate(zip(lows, highs, strides, strict=True)):
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        crop = frame[y0:y1:stride, x0:x1:stride]  # a strided view, no copy
        mask = np.zeros(crop.shape[:2], np.uint8)
        cv2.fillConvexPoly(mask, corners[row], 1)
        inside = crop[mask.astype(bool)]  # (N, 3) RGB
        if len(inside) >= _MIN_REGION_PIXELS:
            lab = cv2.cvtColor(inside[None], cv2.COLOR_RGB2Lab)[0]  # (N, 3) 8-bit Lab
            ordered = np.sort(lab, axis=0)  # each channel sorted on its own
            signature[row] = ordered[(len(ordered) - 1) * np.array(_QUARTILES) // 100]
    # 8-bit Lab to L in 0-100 and signed a, b
    return (signature - (0.0, 128.0, 128.0)) * np.array([100.0 / 255.0, 1.0, 1.0], np.float32)


def _region_polygons(pixels: np.ndarray) -> np.ndarray:
    """(5, 4, 2) corners of the chest, the thighs and the shins (left, right) in pixels."""
    shoulders, hips = pixels[list(_SHOULDERS)], pixels[list(_HIPS)]  # (2, 2) left, right
    top, bottom = shoulders + 0.15 * (hips - shoulders), shoulders + 0.6 * (hips - shoulders)
    top, bottom = _narrowed(top), _narrowed(bottom)[::-1]  # (2, 2) each
    starts, ends = pixels[[*_HIPS, *_KNEES]], pixels[[*_KNEES, *_ANKLES]]  # (4, 2) bones
    along = ends - starts
    across = along[:, ::-1] * (-0.15, 0.15)  # normal, half-width 15 % of the bone length
    near, far = starts + 0.2 * along, starts + 0.8 * along
    limbs = np.stack([near + across, far + across, far - across, near - across], axis=1)
    return np.concatenate([np.concatenate([top, bottom])[None], limbs])


def _narrowed(pair: np.ndarray, keep: float = 0.7) -> np.ndarray:
    """(2, 2) left and right points pulled towards their middle, keeping `keep` of the gap."""
    centre = pair.mean(axis=0)
    return centre + keep * (pair - centre)


@dataclass(frozen=True)
class IdentitySplit:
    """The tracks of a shot after identity cuts, and what the cuts cost."""

    tracks: list[TrackBuilder]
    num_switches: int  # stretches dropped where a track changed person
    num_chimeras: int  # pieces dropped for lying between two identity breaks


@dataclass
class _Piece:
    track: TrackBuilder
    opens_on_break: bool = False
    closes_on_break: bool = False

    def is_chimera(self, max_frames: float) -> bool:
        """Bounded by identity breaks at both ends and short: a pose spanning two people."""
        duration_frames = self.track.last_frame - self.track.frame_indices[0] + 1
        return self.opens_on_break and self.closes_on_break and duration_frames < max_frames


def split_identity_switches(
    tracks: list[TrackBuilder], fps: float, config: TrackingConfig
) -> IdentitySplit:
    """Cut every track where it changes person, then drop short pieces between two breaks."""
    pieces: list[_Piece] = []
    num_switches = 0
    for track in tracks:
        switches = find_identity_breaks(track.detections, fps, config)
        num_switches += len(switches)
        pieces.extend(_cut(track, switches))
    _mark_snaps(pieces, fps, config)
    max_frames = config.max_chimera_s * fps
    kept = [piece.track for piece in pieces if not piece.is_chimera(max_frames)]
    return IdentitySplit(kept, num_switches, len(pieces) - len(kept))


def find_identity_breaks(
    detections: list[PoseDetection], fps: float, config: TrackingConfig
) -> list[tuple[int, int]]:
    """Stretches `[start, stop)` of detection indices to drop: where the person changes, or
    where the pose briefly spans two people.

    Split point k lies between detections k - 1 and k; it is suspect where at least
    `switch_min_votes` of the scale, chest-colour and legs-colour steps reach their thresholds,
    and detection k is then dropped: a step at detection c makes the points within half a
    window of c suspect, so the dropped stretch straddles c. A detection whose scale stands
    `chimera_scale_bump` above both neighbouring medians is dropped too (`_scale_bumps`). Each
    stretch is widened by `switch_margin_s` on both sides.
    """
    window = max(2, round(config.identity_window_s * fps))
    if len(detections) < window:
        return []
    scales = np.log([[max(detection.scale, 1e-6)] for detection in detections])  # (n, 1)
    votes = _votes(detections, scales, window, config)  # (n + 1,)
    drop = (votes[:-1] >= config.switch_min_votes) | _scale_bumps(scales, 2 * window, config)
    margin = round(config.switch_margin_s * fps)
    if margin > 0 and drop.any():  # widen each dropped stretch by `margin` on both sides
        drop = np.convolve(drop, np.ones(2 * margin + 1), mode="same") > 0
    runs: list[tuple[int, int]] = []
    for index in np.flatnonzero(drop):
        if runs and index == runs[-1][1]:
            runs[-1] = (runs[-1][0], int(index) + 1)
        else:
            runs.append((int(index), int(index) + 1))
    return runs


def _scale_bumps(scales: np.ndarray, window: int, config: TrackingConfig) -> np.ndarray:
    """(n,) True where a detection's log scale (n, 1) stands `chimera_scale_bump` above the
    medians of the `window` detections before and after it: a pose stretched over two people
    at different depths, too short to move a half-window median step (vtest.avi 507-510)."""
    before, after = _window_medians(scales, window)  # (n + 1, 1) each
    with np.errstate(invalid="ignore"):  # NaN (a side too short) never flags
        return scales[:, 0] - np.maximum(before[:-1, 0], after[1:, 0]) >= config.chimera_scale_bump


def _votes(
    detections: list[PoseDetection], scales: np.ndarray, window: int, config: TrackingConfig
) -> np.ndarray:
    """(n + 1,) number of cues stepping past their threshold at each split point."""
    steps = cue_steps(detections, scales, window)  # (n + 1, 3)
    thresholds = (config.switch_scale_step, config.switch_chest_step, config.switch_legs_step)
    with np.errstate(invalid="ignore"):  # NaN (too few detections) never votes
        return (steps >= np.array(thresholds)).sum(axis=1)


def cue_steps(detections: list[PoseDetection], scales: np.ndarray, window: int) -> np.ndarray:
    """(n + 1, 3) steps at each split point: |log scale|, chest colour, legs colour.

    scales: (n, 1) log body scale. Each is the difference between the medians of the `window`
    detections before and from the split point; the legs step is the larger of the thighs' and
    the shins' step, each the smaller of the left and the right one (both legs must change: a
    bag swinging at one thigh must not count). NaN where a window is too short.
    """
    before, after = _window_medians(scales, window)
    scale_step = np.abs(after - before)[:, 0]  # (n + 1,)
    colours = np.stack([_appearance(detection) for detection in detections])  # (n, 5, 3, 3)
    before, after = _window_medians(colours.reshape(len(detections), -1), window)
    shape = (-1, NUM_REGIONS, len(_QUARTILES), 3)
    difference = (after.reshape(shape) - before.reshape(shape)) * _LAB_WEIGHTS
    region_step = np.linalg.norm(difference, axis=-1).mean(axis=-1)  # (n + 1, 5)
    thighs_step = np.minimum(region_step[:, 1], region_step[:, 2])
    shins_step = np.minimum(region_step[:, 3], region_step[:, 4])
    return np.stack([scale_step, region_step[:, 0], np.fmax(thighs_step, shins_step)], axis=1)


def _appearance(detection: PoseDetection) -> np.ndarray:
    if detection.appearance is None:
        return np.full((NUM_REGIONS, len(_QUARTILES), 3), np.nan, np.float32)
    return detection.appearance


def _window_medians(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Medians of `values` (n, F) over the `window` rows before and from each split point.

    Returns two (n + 1, F) arrays; NaN where fewer than half a window of values is finite
    (near the track's ends, or where a region was not visible).
    """
    num_rows = len(values)
    padded = np.full((num_rows + 2 * window, values.shape[1]), np.nan, np.float32)
    padded[window : window + num_rows] = values
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)  # (n+w+1, F, w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows give NaN
        medians = np.nanmedian(windows, axis=-1)  # (n + w + 1, F)
    medians[np.isfinite(windows).sum(axis=-1) < math.ceil(window / 2)] = np.nan
    return medians[: num_rows + 1], medians[window:]


def _cut(track: TrackBuilder, switches: list[tuple[int, int]]) -> list[_Piece]:
    pieces: list[_Piece] = []
    start = 0
    for first, stop in switches:
        if first > start:
            pieces.append(_Piece(track.piece(start, first), start > 0, closes_on_break=True))
        start = stop
    if start < track.num_detections:
        pieces.append(_Piece(track.piece(start, track.num_detections), start > 0))
    return pieces


def _mark_snaps(pieces: list[_Piece], fps: float, config: TrackingConfig) -> None:
    """Mark breaks where one piece ends and another starts right after, close by: the tracker
    refused to link them (a size or distance jump), so the pose snapped between people."""
    max_gap = max(1, round(config.snap_gap_s * fps))
    for ending in pieces:
        last = ending.track.detections[-1]
        for starting in pieces:
            gap = starting.track.frame_indices[0] - ending.track.last_frame
            if not 1 <= gap <= max_gap:
                continue
            first = starting.track.detections[0]
            distance = float(np.linalg.norm(first.centre - last.centre))
            if distance <= config.snap_distance * max(first.size, last.size):
                ending.closes_on_break = starting.opens_on_break = True
