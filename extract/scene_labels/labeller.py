"""A loaded scene labeller: CLIP zero-shot and/or VLM captions over prepared keyframes.

Owns `SceneLabeller` and its identity. `load_scene_labeller` loads the models a resolved
`SceneLabelConfig` names (once per process: shard tasks running in one process share them) and
derives the labeller id, a hash of everything that changes a label: model ids and weight
versions, vocabulary, templates, threshold, keyframe count, size and person mode, caption
prompt. `label_clips` checks each keyframe (black, blank, tiny frames are dropped; a clip with
no usable keyframe is a recorded skip), hides the person, embeds all keyframes of the shard in
batches, averages them per clip, and writes the zero-shot label (or `unknown` below the
threshold) and the caption of the middle usable keyframe mapped onto the vocabulary.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from extract.scene_labels.caption import CaptionModel, load_caption_model, map_captions
from extract.scene_labels.clip_model import (
    ClipSceneModel,
    load_clip_scene_model,
    normalise_rows,
    zero_shot_probabilities,
)
from extract.scene_labels.inputs import ClipKeyframes, scene_failure
from extract.scene_labels.keyframes import decode_jpeg, frame_problem, hide_person
from extract.scene_labels.label_config import SceneLabelConfig
from storage.records import FailureRecord
from storage.scene_records import UNKNOWN_SCENE, SceneLabel


@dataclass(frozen=True)
class PreparedClip:
    """A clip's usable keyframes with the person hidden, ready for the models."""

    keyframes: ClipKeyframes
    images: tuple[Image.Image, ...]


@dataclass(eq=False)
class SceneLabeller:
    config: SceneLabelConfig
    clip: ClipSceneModel
    caption: CaptionModel | None
    scene_embeddings: np.ndarray  # (V, D)
    labeller_id: str

    def prepare(self, clip: ClipKeyframes) -> PreparedClip | FailureRecord:
        """Drop unusable keyframes and hide the person; a failure when none is usable."""
        images, problems = [], []
        for data, box in zip(clip.frames, clip.boxes, strict=True):
            image = decode_jpeg(data)
            problem = frame_problem(image)
            if problem:
                problems.append(problem)
            else:
                images.append(hide_person(image, box, self.config.person_mode))
        if images:
            return PreparedClip(clip, tuple(images))
        kind = Counter(problems).most_common(1)[0][0]
        row = {"clip_id": clip.clip_id, "source_uri": clip.source_uri, "dataset": clip.dataset}
        detail = ", ".join(f"{count} {name}" for name, count in Counter(problems).items())
        return scene_failure(row, kind, f"no usable keyframe ({detail})")

    def label_clips(
        self, clips: list[ClipKeyframes]
    ) -> tuple[list[SceneLabel], list[FailureRecord]]:
        """One `SceneLabel` per clip with a usable keyframe, a failure for every other."""
        outcomes = [self.prepare(clip) for clip in clips]
        prepared = [o for o in outcomes if isinstance(o, PreparedClip)]
        failures = [o for o in outcomes if isinstance(o, FailureRecord)]
        if not prepared:
            return [], failures
        zero_shot = self._zero_shot(prepared) if self.config.zero_shot else None
        captions = self._captions(prepared) if self.caption else None
        labels = [
            self._record(index, clip, zero_shot, captions) for index, clip in enumerate(prepared)
        ]
        return labels, failures

    def _zero_shot(self, prepared: list[PreparedClip]) -> tuple[np.ndarray, np.ndarray]:
        """(N, D) per-clip embeddings (mean over keyframes, renormalised), (N, V) probabilities."""
        images = [image for clip in prepared for image in clip.images]
        per_frame = self.clip.encode_images(images, self.config.batch_size)  # (F, D)
        bounds = np.cumsum([0] + [len(clip.images) for clip in prepared])
        per_clip = np.stack(
            [per_frame[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        )
        per_clip = normalise_rows(per_clip)  # (N, D)
        probabilities = zero_shot_probabilities(
            per_clip, self.scene_embeddings, self.clip.logit_scale
        )
        return per_clip, probabilities

    def _captions(self, prepared: list[PreparedClip]) -> list[tuple[str, tuple | None]]:
        texts = [self.caption.caption(clip.images[len(clip.images) // 2]) for clip in prepared]
        mapped = map_captions(texts, self.clip, self.scene_embeddings)
        return list(zip(texts, mapped, strict=True))

    def _record(self, index: int, clip: PreparedClip, zero_shot, captions) -> SceneLabel:
        frames = clip.keyframes
        fields: dict[str, object] = {}
        if zero_shot is not None:
            embedding, probabilities = zero_shot[0][index], zero_shot[1][index]
            best = int(np.argmax(probabilities))
            confident = probabilities[best] >= self.config.unknown_threshold
            fields |= {
                "clip_model_id": self.clip.model_id,
                "clip_model_version": self.clip.version,
                "label": self.config.scenes[best] if confident else UNKNOWN_SCENE,
                "confidence": float(probabilities[best]),
                "probabilities": probabilities.astype(np.float32),
                "embedding": embedding.astype(np.float32),
            }
        if captions is not None:
            text, nearest = captions[index]
            fields |= {
                "caption_model_id": self.caption.model_id,
                "caption_model_version": self.caption.version,
                "caption": text,
                "caption_label": self.config.scenes[nearest[0]] if nearest else None,
                "caption_similarity": nearest[1] if nearest else None,
            }
        return SceneLabel(
            clip_id=frames.clip_id,
            labeller_id=self.labeller_id,
            vocabulary=self.config.scenes,
            keyframe_times_s=frames.times_s,
            keyframe_source=frames.source,
            keyframes=frames.frames if self.config.store_keyframes else (),
            **fields,
        )


def labeller_identity(
    config: SceneLabelConfig, clip: ClipSceneModel, caption: CaptionModel | None
) -> str:
    """10 hex digits identifying everything that changes a label (see the module docstring)."""
    identity = {
        "clip": [clip.model_id, clip.version, config.zero_shot],
        "caption": [caption.model_id, caption.version, caption.prompt, caption.max_new_tokens]
        if caption
        else None,
        "scenes": list(config.scenes),
        "templates": list(config.templates) if config.zero_shot or caption else None,
        "threshold": config.unknown_threshold if config.zero_shot else None,
        "keyframes": [config.num_keyframes, config.keyframe_long_side, config.person_mode],
    }
    payload = json.dumps(identity, sort_keys=True).encode("utf-8")
    return hashlib.sha1(payload).hexdigest()[:10]


_LOADED: dict[SceneLabelConfig, SceneLabeller] = {}
_LOADING = threading.Lock()


def load_scene_labeller(config: SceneLabelConfig) -> SceneLabeller:
    """The labeller for a resolved config, loaded once per process and settings."""
    key = _model_key(config)
    with _LOADING:
        if key not in _LOADED:
            _LOADED.clear()  # one labeller at a time: models can be large
            clip = load_clip_scene_model(config.clip_model, config.offline, config.device)
            caption = None
            if config.captions and config.caption_model:
                caption = load_caption_model(
                    config.caption_model,
                    config.offline,
                    config.device,
                    config.caption_prompt,
                    config.caption_max_new_tokens,
                )
            scene_embeddings = clip.scene_embeddings(config.vocabulary)
            _LOADED[key] = SceneLabeller(
                key, clip, caption, scene_embeddings, labeller_identity(key, clip, caption)
            )
        return _LOADED[key]


def _model_key(config: SceneLabelConfig) -> SceneLabelConfig:
    """The config without the fields that do not change the labeller (root, replace)."""
    return replace(config, root="", replace=False)
