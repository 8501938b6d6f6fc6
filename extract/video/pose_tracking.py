"""Frame-to-frame association of MediaPipe pose detections into per-person tracks, within a shot.

Owns the rule "a track never splices two people": MediaPipe returns an unordered list of up to
`num_poses` poses per frame, and in VIDEO mode it may silently re-detect a different person
after losing one. `PoseTracker` links each frame's detections to the live tracks by Hungarian
assignment on a cost mixing the image-space distance of the hip/shoulder centre, in units of
body size, and one minus the box IoU. A pair is allowed only when the centre moved at most
`jitter + max_speed x elapsed time` body sizes (capped at `max_jump`) and the body size changed
by at most `size_jitter + size_rate x elapsed time` (at most doubled); a detection with no
allowed track starts a new one, and a track not seen for `max_gap_s` is closed. Two detections
of one frame that overlap almost entirely are one person found twice (MediaPipe does that with
num_poses > 1) and only the more visible is kept. Sizes and distances are in pixels
(normalised landmarks times the frame size), so a non-square frame does not stretch them.
When two people cross, MediaPipe's own landmark tracking can slide from one to the other over
several frames, each step small enough to pass these gates (vtest.avi frames 555-574,
video.avi frames 79-80 and 86-94); `extract.video.pose_identity` finds those slides after the shot
from appearance and body scale and cuts the tracks there (thresholds below, `switch_*`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from storage.joint_maps import MEDIAPIPE_LANDMARK_NAMES

_TRUNK = [
    MEDIAPIPE_LANDMARK_NAMES.index(name)
    for name in ("left_hip", "right_hip", "left_shoulder", "right_shoulder")
]
# Shoulder-hip sides, thighs, shins: bones whose world length MediaPipe keeps near constant.
_SCALE_BONES = np.array(
    [
        [MEDIAPIPE_LANDMARK_NAMES.index(start), MEDIAPIPE_LANDMARK_NAMES.index(end)]
        for start, end in (
            ("left_shoulder", "left_hip"),
            ("right_shoulder", "right_hip"),
            ("left_hip", "left_knee"),
            ("right_hip", "right_knee"),
            ("left_knee", "left_ankle"),
            ("right_knee", "right_ankle"),
        )
    ]
)
_NOT_ALLOWED = 1e9  # cost of a gated pair; linear_sum_assignment needs finite entries


@dataclass(frozen=True)
class TrackingConfig:
    """Gates of the association (body sizes, seconds); see the module docstring."""

    max_speed: float = 3.0  # body sizes per second: a sprint is about 3
    jitter: float = 0.2  # body sizes allowed on top, for landmark noise between frames
    max_jump: float = 1.0  # cap on the allowed move however long the gap
    size_jitter: float = 0.3  # allowed relative change of body size between frames,
    size_rate: float = 1.0  # plus this much per second, at most doubling
    max_gap_s: float = 1.0
    iou_weight: float = 1.0
    duplicate_iou: float = 0.5  # two detections overlapping this much and
    duplicate_distance: float = 0.25  # this close (body sizes) are one person found twice
    # Identity switches (extract.video.pose_identity): steps between the medians of the 0.5 s before
    # and after a split point. Measured on the sample videos: at the slides two or three cues
    # stepped together (scale 0.19-0.28, chest 20-29, legs 16-25); on one person's track only
    # one at a time, up to chest 40 (tennis: the shirt rides up, the light changes), legs 29
    # (a bag at the thighs), scale 0.34 (a track's first frames) or 0.25 (the camera walking
    # up to a dancer), hence two votes.
    identity_window_s: float = 0.5  # medians over this much track before and after a split
    switch_scale_step: float = 0.15  # |log| change of pixels per metre (16 %)
    switch_chest_step: float = 15.0  # Lab distance of the chest's colour quartiles
    switch_legs_step: float = 15.0  # the same for both thighs or both shins
    switch_min_votes: int = 2  # cues that must step together
    switch_margin_s: float = 0.1  # also dropped around each stretch: the slide's edges
    chimera_scale_bump: float = 0.2  # |log| scale above the medians of the 2 x window before
    # and after: a pose spanning two people (0.25-0.54 measured, at most 0.16 on one person)
    max_chimera_s: float = 3.0  # pieces between two identity breaks up to this long are
    # dropped: a pose spanning two people lasted 2 s (vtest.avi 556-574)
    snap_gap_s: float = 0.1  # a track ending where another starts within this gap and
    snap_distance: float = 1.0  # this close (body sizes) is an identity break
    # A track's first or last few detections cut off from the rest by a gap are not trusted:
    # the association bridged the gap with nothing to compare (video.avi: one frame on another
    # person, then 0.63 s without detections, then the track's own person).
    isolated_end_frames: int = 3  # runs at the ends up to this many detections long
    isolated_end_gap_s: float = 0.3  # separated by a gap at least this long are dropped


@dataclass(frozen=True, eq=False)
class PoseDetection:
    """One person in one frame: MediaPipe's raw arrays plus pixel-space summaries.

    world_landmarks, image_landmarks: (33, 3) float32; visibility, presence: (33,) float32;
    centre: (2,) pixels (mean of hips and shoulders); box: (4,) x0, y0, x1, y1 pixels of all
    33 landmarks; size: the box's longer side in pixels; scale: pixels per world metre of the
    least foreshortened trunk or leg bone; appearance: `extract.video.pose_identity`'s colour
    signature (5, 3, 3), None when no frame was at hand.
    """

    world_landmarks: np.ndarray
    image_landmarks: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    centre: np.ndarray
    box: np.ndarray
    size: float
    scale: float
    appearance: np.ndarray | None = None

    @classmethod
    def from_landmarks(
        cls,
        world_landmarks: np.ndarray,
        image_landmarks: np.ndarray,
        visibility: np.ndarray,
        presence: np.ndarray,
        frame_size: tuple[int, int],
        appearance: np.ndarray | None = None,
    ) -> PoseDetection:
        """Build from raw arrays; `frame_size` is (width, height) of the analysed frame."""
        pixels = image_landmarks[:, :2] * np.asarray(frame_size, np.float32)  # (33, 2)
        box = np.concatenate([pixels.min(axis=0), pixels.max(axis=0)])  # (4,)
        size = float(max(box[2] - box[0], box[3] - box[1], 1.0))
        return cls(
            world_landmarks=world_landmarks,
            image_landmarks=image_landmarks,
            visibility=visibility,
            presence=presence,
            centre=pixels[_TRUNK].mean(axis=0),  # (2,)
            box=box,
            size=size,
            scale=body_scale(pixels, world_landmarks),
            appearance=appearance,
        )


def body_scale(pixels: np.ndarray, world_landmarks: np.ndarray) -> float:
    """Pixels per metre of the least foreshortened trunk or leg bone (the longest on screen
    relative to its world length); pixels (33, 2), world_landmarks (33, 3) metres."""
    start, end = _SCALE_BONES[:, 0], _SCALE_BONES[:, 1]
    on_screen = np.linalg.norm(pixels[start] - pixels[end], axis=-1)  # (6,)
    in_world = np.linalg.norm(world_landmarks[start] - world_landmarks[end], axis=-1)  # (6,)
    return float((on_screen / np.maximum(in_world, 0.05)).max())


def box_iou(first: np.ndarray, second: np.ndarray) -> float:
    """Intersection over union of two (4,) x0, y0, x1, y1 boxes."""
    overlap = np.minimum(first[2:], second[2:]) - np.maximum(first[:2], second[:2])  # (2,)
    intersection = float(np.prod(np.clip(overlap, 0.0, None)))
    union = float(np.prod(first[2:] - first[:2]) + np.prod(second[2:] - second[:2]))
    return intersection / max(union - intersection, 1e-9)


@dataclass(eq=False)
class TrackBuilder:
    """The detections of one person so far, in frame order."""

    frame_indices: list[int] = field(default_factory=list)
    detections: list[PoseDetection] = field(default_factory=list)
    prominence: float = 0.0  # sum over detections of size / frame diagonal

    @property
    def last_frame(self) -> int:
        return self.frame_indices[-1]

    @property
    def num_detections(self) -> int:
        return len(self.detections)

    def add(self, frame_index: int, detection: PoseDetection, frame_diagonal: float) -> None:
        self.frame_indices.append(frame_index)
        self.detections.append(detection)
        self.prominence += detection.size / frame_diagonal

    def piece(self, start: int, stop: int) -> TrackBuilder:
        """A new track of detections `start:stop`, with their share of the prominence."""
        detections = self.detections[start:stop]
        share = sum(d.size for d in detections) / max(sum(d.size for d in self.detections), 1e-9)
        return TrackBuilder(self.frame_indices[start:stop], detections, self.prominence * share)

    def stack(self) -> dict[str, np.ndarray]:
        """Arrays from the first to the last detection, zeros where not detected.

        world_landmarks, image_landmarks: (T, 33, 3); visibility, presence: (T, 33); detected:
        (T,) bool, with T = last_frame - first_frame + 1.
        """
        num_frames = self.last_frame - self.frame_indices[0] + 1
        num_landmarks = len(MEDIAPIPE_LANDMARK_NAMES)
        arrays = {
            "world_landmarks": np.zeros((num_frames, num_landmarks, 3), np.float32),
            "image_landmarks": np.zeros((num_frames, num_landmarks, 3), np.float32),
            "visibility": np.zeros((num_frames, num_landmarks), np.float32),
            "presence": np.zeros((num_frames, num_landmarks), np.float32),
        }
        detected = np.zeros(num_frames, bool)
        for frame_index, detection in zip(self.frame_indices, self.detections, strict=True):
            row = frame_index - self.frame_indices[0]
            detected[row] = True
            for name, array in arrays.items():
                array[row] = getattr(detection, name)
        return arrays | {"detected": detected}


class PoseTracker:
    """Associates each frame's detections with tracks; `tracks` holds every track started."""

    def __init__(
        self, fps: float, frame_size: tuple[int, int], config: TrackingConfig | None = None
    ) -> None:
        self.fps = fps
        self.config = config or TrackingConfig()
        self.frame_diagonal = float(np.hypot(*frame_size))
        self.max_gap_frames = max(1, round(self.config.max_gap_s * fps))
        self.tracks: list[TrackBuilder] = []

    def update(self, frame_index: int, detections: list[PoseDetection]) -> None:
        detections = self.suppress_duplicates(detections)
        if not detections:
            return
        live = [
            track for track in self.tracks if frame_index - track.last_frame <= self.max_gap_frames
        ]
        cost = np.full((len(live), len(detections)), _NOT_ALLOWED)  # (tracks, detections)
        for row, track in enumerate(live):
            for column, detection in enumerate(detections):
                cost[row, column] = self.pair_cost(track, frame_index, detection)
        matched: set[int] = set()
        for row, column in zip(*linear_sum_assignment(cost), strict=True):
            if cost[row, column] < _NOT_ALLOWED:
                live[row].add(frame_index, detections[column], self.frame_diagonal)
                matched.add(int(column))
        for column, detection in enumerate(detections):
            if column not in matched:
                track = TrackBuilder()
                track.add(frame_index, detection, self.frame_diagonal)
                self.tracks.append(track)

    def suppress_duplicates(self, detections: list[PoseDetection]) -> list[PoseDetection]:
        """Drop the less visible of two detections of one person (MediaPipe with num_poses > 1
        sometimes returns a tracked pose and a fresh detection of the same person)."""
        ranked = sorted(detections, key=lambda d: float(d.visibility.mean()), reverse=True)
        kept: list[PoseDetection] = []
        for detection in ranked:
            if not any(self._same_person(detection, other) for other in kept):
                kept.append(detection)
        return kept

    def _same_person(self, first: PoseDetection, second: PoseDetection) -> bool:
        overlap = box_iou(first.box, second.box)
        distance = float(np.linalg.norm(first.centre - second.centre))
        near = distance < self.config.duplicate_distance * max(first.size, second.size)
        return overlap > self.config.duplicate_iou and near

    def pair_cost(self, track: TrackBuilder, frame_index: int, detection: PoseDetection) -> float:
        """Association cost, or `_NOT_ALLOWED` when the pair fails a gate."""
        config = self.config
        last = track.detections[-1]
        elapsed_s = (frame_index - track.last_frame) / self.fps
        larger, smaller = max(last.size, detection.size), min(last.size, detection.size)
        allowed_growth = min(config.size_jitter + config.size_rate * elapsed_s, 1.0)
        if larger / max(smaller, 1.0) > 1.0 + allowed_growth:
            return _NOT_ALLOWED
        allowed = min(config.jitter + config.max_speed * elapsed_s, config.max_jump)
        moved = float(np.linalg.norm(detection.centre - last.centre)) / larger
        if moved > allowed:
            return _NOT_ALLOWED
        return moved / allowed + config.iou_weight * (1.0 - box_iou(last.box, detection.box))


def trim_isolated_ends(builder: TrackBuilder, fps: float, config: TrackingConfig) -> TrackBuilder:
    """The track without short runs of detections at its ends that a long gap separates."""
    frames = np.asarray(builder.frame_indices)  # (N,)
    gaps = np.flatnonzero(np.diff(frames) >= config.isolated_end_gap_s * fps)  # before index+1
    start, stop = 0, len(frames)
    if len(gaps) and gaps[0] + 1 <= config.isolated_end_frames:
        start = int(gaps[0]) + 1
    if len(gaps) and len(frames) - (gaps[-1] + 1) <= config.isolated_end_frames:
        stop = int(gaps[-1]) + 1
    if (start, stop) == (0, len(frames)) or start >= stop:
        return builder
    return builder.piece(start, stop)
