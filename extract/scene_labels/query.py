"""A scene given as a file at stylization time: image or video -> one CLIP image embedding.

Owns `embed_scene_file`, used by `stylemotion stylize --scene IMAGE|VIDEO`. An image is read
with Pillow; a video gives `num_frames` keyframes spread over its duration (ffmpeg, as the
scene labeller decodes them). Frames that show no usable scene (black, blank or tiny: the
labeller's own `frame_problem` test) are dropped; if none is left, or the file is neither, a
`SceneQueryError` says so. The embedding is the normalised mean of the kept frames' CLIP image
embeddings (the labeller's recipe for a clip), so it lives where the stored embeddings live.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from extract.scene_labels.clip_model import ClipSceneModel, normalise_rows
from extract.scene_labels.keyframes import KeyframeError, decode_keyframe, frame_problem
from extract.video.probe import probe_video
from storage.errors import UserInputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


class SceneQueryError(UserInputError, ValueError):
    """A scene file that gives no usable embedding; the message names the file and why."""


def scene_frames(path: Path, num_frames: int = 4, long_side: int = 448) -> list[Image.Image]:
    """The frames of an image or a video file (unchecked)."""
    if not path.is_file():
        raise SceneQueryError(f"scene file {path} does not exist")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            return [Image.open(path).convert("RGB")]
        except (UnidentifiedImageError, OSError) as error:
            raise SceneQueryError(f"{path}: not a readable image ({error})") from error
    try:
        duration = probe_video(path).duration_s
        times = [duration * (i + 0.5) / num_frames for i in range(num_frames)]
        return [decode_keyframe(path, time_s, long_side) for time_s in times]
    except (KeyframeError, ValueError, OSError, RuntimeError) as error:
        raise SceneQueryError(f"{path}: neither an image nor a readable video ({error})") from error


def embed_scene_file(path: str | Path, model: ClipSceneModel, num_frames: int = 4) -> np.ndarray:
    """The unit CLIP image embedding `(D,)` of an image or video file (module doc)."""
    path = Path(path)
    frames = scene_frames(path, num_frames)
    problems = [frame_problem(frame) for frame in frames]
    usable = [frame for frame, problem in zip(frames, problems, strict=True) if problem is None]
    if not usable:
        raise SceneQueryError(
            f"{path}: no usable scene embedding: every frame is unusable ({', '.join(problems)})"
        )
    embeddings = model.encode_images(usable)  # (N, D)
    return normalise_rows(embeddings.mean(axis=0, keepdims=True))[0]
