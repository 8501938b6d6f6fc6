"""Pose extraction on real videos with the real MediaPipe model, the model setting, bad input.

The model is read through STYLEMOTION_POSE_MODEL, pointed at $STYLEMOTION_DATA/../models.
Measured here (logged at INFO): tennis.mp4 and dance.mp4 give one main track detected in every
frame with thighs of about 0.39 m; vtest.avi (small walkers) gives a few smooth tracks, never
one jumping between people; openpose's video.avi with three people requested gives three.
Where people cross, MediaPipe's pose slides from one onto the other: the ground truth below
(who is where in which frames, established by looking at the frames with the poses drawn)
checks that no track holds two people or a pose spanning two.
"""

from __future__ import annotations

import http.server
import logging
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from mediapipe.tasks.python import vision

from extract.video.frames import NormaliseConfig, open_video_frames
from extract.video.pose import (
    EXTRACTOR_VERSION,
    NoPersonError,
    NoPoseTrackError,
    PoseConfig,
    PoseExtraction,
    extract_video_poses,
    run_pose_extraction,
)
from extract.video.pose_identity import appearance_signature, split_identity_switches
from extract.video.pose_model import (
    POSE_MODEL_ENV,
    POSE_MODEL_FILENAME,
    PoseModelError,
    resolve_pose_model,
)
from extract.video.pose_tracking import (
    PoseDetection,
    PoseTracker,
    TrackBuilder,
    TrackingConfig,
    box_iou,
)
from extract.video.probe import (
    CorruptVideoError,
    ExtremeAspectError,
    NotAVideoError,
    TooShortError,
    UnreadableError,
    VideoError,
)
from storage.checksums import file_sha256
from storage.joint_maps import MEDIAPIPE_LANDMARK_NAMES
from storage.records import make_clip_id
from storage.video_records import PoseTrack
from tests.extract import video_samples

logger = logging.getLogger(__name__)

MODEL_SHA256 = "67bfedf5f50bd0fa650be65d3d26a41646ef8794e02537b691043b6ddd6690a7"  # models/README
INDEX = {name: position for position, name in enumerate(MEDIAPIPE_LANDMARK_NAMES)}
Extract = Callable[..., PoseExtraction]


@pytest.fixture(scope="module")
def model_path(shared_data: Path) -> Path:
    return shared_data.parent / "models" / POSE_MODEL_FILENAME


@pytest.fixture(scope="module")
def extract(shared_data: Path, model_path: Path) -> Iterator[Extract]:
    """run_pose_extraction on a sample video, each (video, settings) computed once per module."""
    cache: dict[tuple, PoseExtraction] = {}

    def run(sample: str, **settings: object) -> PoseExtraction:
        key = (sample, tuple(sorted(settings.items())))
        if key not in cache:
            path = shared_data / "video" / sample
            cache[key] = run_pose_extraction(path, Path(sample).stem, PoseConfig(**settings))
        return cache[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(POSE_MODEL_ENV, str(model_path))
        yield run


def _pixels(track: PoseTrack) -> np.ndarray:
    return track.image_landmarks[:, :, :2] * np.array([track.width, track.height])  # (T, 33, 2)


def _hip_centres_and_sizes(track: PoseTrack) -> tuple[np.ndarray, np.ndarray]:
    pixels = _pixels(track)
    hips = pixels[:, [INDEX["left_hip"], INDEX["right_hip"]]].mean(axis=1)  # (T, 2)
    sizes = np.ptp(pixels, axis=1).max(axis=1)  # (T,) longer side of the landmark box
    return hips, sizes


def _hip_steps(track: PoseTrack) -> np.ndarray:
    """Hip-centre displacement between consecutive detected frames, in body sizes."""
    hips, sizes = _hip_centres_and_sizes(track)
    frames = np.flatnonzero(track.detected)
    pairs = [(a, b) for a, b in zip(frames[:-1], frames[1:], strict=True) if b - a == 1]
    return np.array([np.linalg.norm(hips[b] - hips[a]) / max(sizes[a], sizes[b]) for a, b in pairs])


def _bone_median(track: PoseTrack, start: str, end: str) -> float:
    world = track.world_landmarks[track.detected]  # (D, 33, 3) metres
    lengths = np.linalg.norm(world[:, INDEX[start]] - world[:, INDEX[end]], axis=-1)  # (D,)
    return float(np.median(lengths))


def _boxes(track: PoseTrack) -> np.ndarray:
    pixels = _pixels(track)
    return np.concatenate([pixels.min(axis=1), pixels.max(axis=1)], axis=-1)  # (T, 4)


def _assert_distinct(tracks: list[PoseTrack]) -> float:
    """No two tracks on one person at once (their landmark boxes would coincide); returns the
    largest box IoU between two tracks in one frame."""
    largest = 0.0
    for position, first in enumerate(tracks):
        for second in tracks[position + 1 :]:
            if first.shot_index != second.shot_index:
                continue
            first_boxes, second_boxes = _boxes(first), _boxes(second)
            start = max(first.start_frame, second.start_frame)
            end = min(first.start_frame + first.num_frames, second.start_frame + second.num_frames)
            for frame in range(start, end):
                i, j = frame - first.start_frame, frame - second.start_frame
                if first.detected[i] and second.detected[j]:
                    largest = max(largest, box_iou(first_boxes[i], second_boxes[j]))
    assert largest < 0.5, f"two tracks on one person (box IoU {largest:.2f})"
    return largest


@pytest.mark.parametrize(
    ("sample", "fps", "size"),
    [("gvhmr/tennis.mp4", 30.0, (812, 720)), ("footskate_reducer/dance.mp4", 23.976, (1280, 720))],
)
def test_single_person_video_gives_one_main_track(
    extract: Extract, sample: str, fps: float, size: tuple[int, int]
) -> None:
    extraction = extract(sample)
    assert len(extraction.tracks) == 1 and len(extraction.shots) == 1
    track = extraction.tracks[0]
    fraction = track.detected.sum() / extraction.num_frames
    thigh = _bone_median(track, "left_hip", "left_knee")
    shin = _bone_median(track, "left_knee", "left_ankle")
    upper_arm = _bone_median(track, "left_shoulder", "left_elbow")
    logger.info("%s: main track in %.3f of %d frames, thigh %.3f m, shin %.3f m, upper arm %.3f m",
                sample, fraction, extraction.num_frames, thigh, shin, upper_arm)  # fmt: skip
    assert fraction >= 0.95 and extraction.identity_switches == 0
    assert 0.3 <= thigh <= 0.6 and 0.3 <= shin <= 0.55 and 0.2 <= upper_arm <= 0.4
    assert 0.3 <= _bone_median(track, "right_hip", "right_knee") <= 0.6
    assert track.fps == pytest.approx(fps, abs=1e-3) and (track.width, track.height) == size
    assert track.track_id == make_clip_id("pose", Path(sample).stem, 0, 0)
    assert (track.shot_index, track.track_index) == (0, 0)
    assert track.model_name == "pose_landmarker_full" and track.model_sha256 == MODEL_SHA256
    assert track.extractor_version == EXTRACTOR_VERSION
    assert track.start_frame + track.num_frames <= extraction.num_frames
    assert np.abs(track.world_landmarks[track.detected]).max() < 2.0  # metres around the hips
    assert (_hip_steps(track) < 0.15).all()


def test_undetected_frames_hold_zeros(extract: Extract) -> None:
    extraction = extract("openpose_examples/video.avi", num_poses=3, max_people_tracks=5)
    gaps = [track for track in extraction.tracks if not track.detected.all()]
    assert gaps, "some dancer is missed in some frame"
    for track in gaps:
        missing = ~track.detected
        assert not track.image_landmarks[missing].any() and not track.visibility[missing].any()


def test_vtest_main_subject_never_jumps_between_people(extract: Extract) -> None:
    extraction = extract("opencv_doc/vtest.avi", normalise=NormaliseConfig(max_duration_s=40))
    assert extraction.capped and extraction.fps == 10.0 and extraction.num_frames == 400
    assert len(extraction.tracks) == 1, "default mode follows one subject"
    steps = _hip_steps(extraction.tracks[0])
    logger.info("vtest main track: %d frames, largest hip step %.3f body sizes",
                extraction.tracks[0].detected.sum(), steps.max())  # fmt: skip
    # 10 fps: 0.35 body sizes a frame is 3.5 body sizes a second, above a sprint; walkers
    # here move about 0.1 a frame and the nearest other person is further away.
    assert steps.max() < 0.35


def test_vtest_several_people_give_distinct_tracks(extract: Extract) -> None:
    extraction = extract(
        "opencv_doc/vtest.avi",
        num_poses=5,
        max_people_tracks=5,
        normalise=NormaliseConfig(max_duration_s=60),
    )
    tracks = list(extraction.tracks)
    logger.info("vtest, 5 people: %d tracks %s, %d too short, %d beyond the limit",
                len(tracks), [(t.start_frame, int(t.detected.sum())) for t in tracks],
                extraction.dropped_short_tracks, extraction.dropped_extra_tracks)  # fmt: skip
    assert len(tracks) >= 2
    assert [track.track_index for track in tracks] == list(range(len(tracks)))
    assert len({track.track_id for track in tracks}) == len(tracks)
    for track in tracks:
        assert _hip_steps(track).max() < 0.35
    logger.info("vtest: largest box IoU between two tracks %.2f", _assert_distinct(tracks))


def test_street_dancers_give_several_tracks(extract: Extract) -> None:
    extraction = extract("openpose_examples/video.avi", num_poses=3, max_people_tracks=5)
    long_tracks = [track for track in extraction.tracks if track.detected.sum() >= 60]
    detected = [int(track.detected.sum()) for track in extraction.tracks]
    logger.info("video.avi, 3 people: %s of %d frames", detected, extraction.num_frames)
    assert len(long_tracks) >= 2
    largest = _assert_distinct(list(extraction.tracks))
    logger.info("video.avi: largest box IoU between two tracks %.2f", largest)


# Who is where, in normalised frames: (who, first frame, last frame, the box x0, y0, x1, y1 in
# pixels holding their hip centre then). "mixed" is a pose spanning two people.
# vtest.avi (10 fps): a man in a red jacket walks away from the camera beside a woman in a
# black coat; from 556 MediaPipe's legs slide onto hers while the shoulders stay on him, and at
# 575/576 the pose snaps onto her (num_poses=5) or back onto him (num_poses=1). Earlier, on the
# path, the torso of a man in jeans jumps onto the man in black behind him for 507-510.
VTEST_PEOPLE = [
    ("man in red jacket", 530, 553, (170, 415, 400, 495)),
    ("mixed", 557, 574, (185, 420, 225, 475)),
    ("man in red jacket", 578, 599, (225, 360, 470, 412)),
    ("woman in black coat", 578, 599, (185, 495, 300, 525)),
    ("man in jeans", 493, 505, (560, 315, 630, 352)),
    ("mixed", 507, 510, (630, 335, 650, 355)),
    ("man in jeans", 512, 520, (670, 360, 765, 400)),
]
# video.avi (30 fps; num_poses=3): the dancer in a denim jacket and pink skirt hugs a woman in
# a teal top; at 79-80 the pose slides onto the teal top and at 98 jumps back. On the left a
# woman in a black coat with a tan bag walks past a man in a blue hoodie: from 86 the pose's
# shoulders are on his hoodie while its legs stay on hers, and from 95 it is all on him.
VIDEO_AVI_PEOPLE = [
    ("denim jacket", 40, 77, (690, 300, 770, 425)),
    ("mixed", 79, 80, (750, 375, 840, 400)),
    ("teal top", 82, 93, (760, 325, 840, 360)),
    ("denim jacket", 99, 122, (640, 340, 990, 395)),
    ("black coat, bag", 25, 85, (70, 260, 320, 365)),
    ("mixed", 87, 93, (25, 270, 80, 300)),
    ("blue hoodie", 96, 122, (10, 225, 100, 290)),
    ("grey shirt", 25, 122, (475, 235, 600, 325)),
]


def _people_seen(track: PoseTrack, people: list[tuple]) -> dict[str, int]:
    """How many frames of each ground-truth person (or "mixed") the track holds."""
    hips = _pixels(track)[:, [INDEX["left_hip"], INDEX["right_hip"]]].mean(axis=1)  # (T, 2)
    seen: dict[str, int] = {}
    for who, first, last, (x0, y0, x1, y1) in people:
        for frame in range(max(first, track.start_frame), last + 1):
            row = frame - track.start_frame
            if row < track.num_frames and track.detected[row]:
                x, y = hips[row]
                seen[who] = seen.get(who, 0) + int(x0 <= x <= x1 and y0 <= y <= y1)
    return {who: count for who, count in seen.items() if count}


def _assert_never_spliced(extraction: PoseExtraction, people: list[tuple]) -> dict[str, int]:
    """Each track holds at most one person and no mixed pose; returns frames kept per person."""
    kept: dict[str, int] = {}
    for track in extraction.tracks:
        seen = _people_seen(track, people)
        logger.info("track %d from frame %d: %s", track.track_index, track.start_frame, seen)
        assert "mixed" not in seen and len(seen) <= 1, f"track {track.track_index}: {seen}"
        kept |= {who: kept.get(who, 0) + count for who, count in seen.items()}
    return kept


@pytest.mark.parametrize("num_poses", [5, 1])
def test_vtest_crossing_walkers_are_never_spliced(extract: Extract, num_poses: int) -> None:
    extraction = extract(
        "opencv_doc/vtest.avi",
        num_poses=num_poses,
        max_people_tracks=5,
        normalise=NormaliseConfig(max_duration_s=60),
    )
    kept = _assert_never_spliced(extraction, VTEST_PEOPLE)
    assert extraction.identity_switches >= 2 and extraction.dropped_chimeras >= 1
    assert kept["man in red jacket"] >= 20 and kept["man in jeans"] >= 15


def test_street_dancers_are_never_spliced(extract: Extract) -> None:
    several = extract("openpose_examples/video.avi", num_poses=3, max_people_tracks=5)
    kept = _assert_never_spliced(several, VIDEO_AVI_PEOPLE)
    assert kept["denim jacket"] >= 25 and kept["black coat, bag"] >= 45
    assert kept["grey shirt"] >= 90 and kept["blue hoodie"] >= 20
    main = extract("openpose_examples/video.avi")  # one person: the dancer, never cut
    assert len(main.tracks) == 1 and main.tracks[0].detected.sum() >= 0.95 * main.num_frames
    assert main.identity_switches == 0
    assert _assert_never_spliced(main, VIDEO_AVI_PEOPLE)["denim jacket"] >= 55


def _real_detections(extract: Extract, video: Path, frames: int) -> list[PoseDetection]:
    """The first `frames` detections of a sample's main track, with their colour signatures."""
    track = extract(f"{video.parent.name}/{video.name}").tracks[0]
    size = (track.width, track.height)
    detections = []
    with open_video_frames(video) as decoded:
        for row, frame in zip(range(frames), decoded, strict=False):
            pixels = track.image_landmarks[row, :, :2] * np.array(size, np.float32)
            detections.append(
                PoseDetection.from_landmarks(
                    track.world_landmarks[row],
                    track.image_landmarks[row],
                    track.visibility[row],
                    track.presence[row],
                    size,
                    appearance_signature(frame, pixels),
                )
            )
    return detections


def test_identity_split_cuts_a_splice_of_two_real_people(
    extract: Extract, shared_data: Path
) -> None:
    """Two seconds of the tennis player, then two seconds of the dancer, as one track."""
    video = shared_data / "video"
    tennis = _real_detections(extract, video / "gvhmr" / "tennis.mp4", 60)
    dance = _real_detections(extract, video / "footskate_reducer" / "dance.mp4", 60)
    config = TrackingConfig()
    for alone in (tennis, dance):
        split = split_identity_switches([_builder(alone)], 30.0, config)
        assert split.num_switches == 0 and split.tracks[0].num_detections == 60
    split = split_identity_switches([_builder(tennis + dance)], 30.0, config)
    pieces = [(track.frame_indices[0], track.last_frame) for track in split.tracks]
    logger.info("tennis then dance: pieces %s", pieces)
    assert split.num_switches == 1 and len(pieces) == 2
    assert pieces[0][0] == 0 and pieces[0][1] < 60 <= pieces[1][0] and pieces[1][1] == 119
    assert all(last - first >= 40 for first, last in pieces), "the cut costs under 0.7 s"


def _builder(detections: list[PoseDetection]) -> TrackBuilder:
    builder = TrackBuilder()
    for frame_index, detection in enumerate(detections):
        builder.add(frame_index, detection, frame_diagonal=1000.0)
    return builder


def test_clip_without_people_gives_no_tracks(
    tmp_path: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(POSE_MODEL_ENV, str(model_path))
    extraction = run_pose_extraction(video_samples.blank_clip(tmp_path), "blank")
    assert extraction.tracks == () and extraction.num_frames == 30
    assert extraction.num_detections == 0


def test_a_video_that_keeps_no_track_raises_why(
    tmp_path: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`extract_video_poses`, which the ingest records failures from, never returns nothing."""
    monkeypatch.setenv(POSE_MODEL_ENV, str(model_path))
    blank = video_samples.blank_clip(tmp_path)
    with pytest.raises(NoPersonError, match="nobody detected in 30 frames") as caught:
        extract_video_poses(blank, "blank")
    assert caught.value.kind == "NoPerson" and str(blank) in str(caught.value)
    assert isinstance(caught.value, NoPoseTrackError) and isinstance(caught.value, VideoError)


def _bad_inputs(video: Path, directory: Path) -> dict[str, tuple[Path, type[VideoError]]]:
    tennis, dance = video / "gvhmr" / "tennis.mp4", video / "footskate_reducer" / "dance.mp4"
    return {
        "truncated": (
            video_samples.truncated_copy(tennis, directory / "cut.mp4", 1_000_000),
            CorruptVideoError,
        ),
        "corrupt midway": (video_samples.faststart_truncated(tennis, directory), CorruptVideoError),
        "text named .mp4": (video_samples.text_file(directory), NotAVideoError),
        "audio only": (video_samples.audio_only(directory, ".mp4"), NotAVideoError),
        "one frame": (video_samples.one_frame(tennis, directory), TooShortError),
        "1280x40": (video_samples.cropped(dance, directory, 1280, 40, "s"), ExtremeAspectError),
        "missing": (directory / "nowhere.mp4", UnreadableError),
    }


def test_bad_inputs_raise_typed_errors_naming_the_file(
    shared_data: Path, tmp_path: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(POSE_MODEL_ENV, str(model_path))
    for name, (path, error_type) in _bad_inputs(shared_data / "video", tmp_path).items():
        with pytest.raises(error_type) as caught:
            run_pose_extraction(path, name)
        assert str(path) in str(caught.value), name


def test_tracker_starts_a_new_track_rather_than_splice(extract: Extract) -> None:
    """A real pose, then the same pose moved two body sizes away: another person."""
    track = extract("gvhmr/tennis.mp4").tracks[0]
    size = (track.width, track.height)

    def detection(frame: int, shift_x: float = 0.0) -> PoseDetection:
        image = track.image_landmarks[frame].copy()
        image[:, 0] += shift_x
        return PoseDetection.from_landmarks(
            track.world_landmarks[frame],
            image,
            track.visibility[frame],
            track.presence[frame],
            size,
        )

    tracker = PoseTracker(fps=30.0, frame_size=size)
    for frame in range(10):
        tracker.update(frame, [detection(frame)])
    body = detection(10).size / track.width  # one body size in normalised x
    tracker.update(10, [detection(10, shift_x=2 * body)])
    tracker.update(11, [detection(11), detection(11, shift_x=2 * body)])
    assert [t.frame_indices for t in tracker.tracks] == [list(range(10)) + [11], [10, 11]]
    tracker.update(12, [detection(12), detection(12)])  # one person found twice
    assert [t.num_detections for t in tracker.tracks] == [12, 2]


def test_landmark_names_match_mediapipe() -> None:
    assert tuple(landmark.name.lower() for landmark in vision.PoseLandmark) == (
        MEDIAPIPE_LANDMARK_NAMES
    )


@pytest.mark.parametrize(
    "settings",
    [{"num_poses": 0}, {"max_people_tracks": 0}, {"min_detection_confidence": 1.5}],
)
def test_invalid_pose_config(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PoseConfig(**settings)


# --- the model setting ---------------------------------------------------------------------


def test_model_from_argument_environment_and_cache(
    model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert file_sha256(model_path) == MODEL_SHA256
    monkeypatch.setenv(POSE_MODEL_ENV, str(model_path))
    assert resolve_pose_model() == model_path
    assert resolve_pose_model(str(model_path)) == model_path
    monkeypatch.delenv(POSE_MODEL_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cached = tmp_path / "stylemotion" / POSE_MODEL_FILENAME
    cached.parent.mkdir()
    cached.symlink_to(model_path)
    assert resolve_pose_model(download_url="http://127.0.0.1:9/never") == cached


def test_missing_configured_model_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(POSE_MODEL_ENV, str(tmp_path / "gone.task"))
    with pytest.raises(PoseModelError, match=POSE_MODEL_ENV):
        resolve_pose_model()
    with pytest.raises(PoseModelError, match="gone.task"):
        resolve_pose_model(tmp_path / "gone.task")


def test_offline_download_fails_with_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(POSE_MODEL_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(PoseModelError) as caught:
        resolve_pose_model(download_url="http://127.0.0.1:9/pose_landmarker_full.task", timeout_s=5)
    assert POSE_MODEL_ENV in str(caught.value) and "127.0.0.1:9" in str(caught.value)
    assert list((tmp_path / "stylemotion").iterdir()) == [], "no partial file left behind"


@pytest.fixture()
def loopback_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A static HTTP server on 127.0.0.1 serving `tmp_path / "served"`."""
    served = tmp_path / "served"
    served.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()


def test_download_once_into_the_cache(
    loopback_server: tuple[str, Path],
    model_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, served = loopback_server
    (served / POSE_MODEL_FILENAME).write_bytes(model_path.read_bytes())
    (served / "page.html").write_text("<html>captive portal</html>", encoding="utf-8")
    monkeypatch.delenv(POSE_MODEL_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(PoseModelError, match="not return a MediaPipe model bundle"):
        resolve_pose_model(download_url=f"{url}/page.html")
    downloaded = resolve_pose_model(download_url=f"{url}/{POSE_MODEL_FILENAME}")
    assert downloaded == tmp_path / "cache" / "stylemotion" / POSE_MODEL_FILENAME
    assert file_sha256(downloaded) == MODEL_SHA256
    (served / POSE_MODEL_FILENAME).unlink()  # a second call must not download again
    assert resolve_pose_model(download_url=f"{url}/{POSE_MODEL_FILENAME}") == downloaded


def test_unloadable_model_is_a_pose_model_error(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    junk = tmp_path / "junk.task"
    junk.write_text("not a model bundle", encoding="utf-8")
    monkeypatch.setenv(POSE_MODEL_ENV, str(junk))
    with pytest.raises(PoseModelError, match="junk.task"):
        run_pose_extraction(shared_data / "video" / "footskate_reducer" / "dance.mp4", "dance")
