"""The record of the scenes table: where one clip was filmed, as one labeller saw it.

A `SceneLabel` is keyed by `(clip_id, labeller_id)`. The labeller id is a short hash of every
setting that changes the answer (models and their versions, vocabulary, prompt templates,
threshold, keyframe settings), so labels from two models live side by side and a re-run with
the same settings is recognised. It holds the CLIP zero-shot answer (label, one probability per
vocabulary entry, the image embedding averaged over keyframes), the VLM caption and the
vocabulary entry nearest to it, and the keyframes themselves (JPEG bytes), so a clip can be
re-labelled after its source video is gone. Either backend may be off: its fields are then None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from storage.records import RecordError, utc_now_iso

UNKNOWN_SCENE = "unknown"


class KeyframeSource(StrEnum):
    VIDEO = "video"  # decoded from the clip's source video in this run
    STORED = "stored"  # the video was gone: keyframes cached by an earlier labeller were used


def _check_vector(name: str, array: object, length: int | None = None) -> None:
    if not isinstance(array, np.ndarray) or array.dtype != np.float32 or array.ndim != 1:
        got = (getattr(array, "dtype", type(array).__name__), getattr(array, "shape", None))
        raise RecordError(f"{name} must be a 1-D float32 array, got {got}")
    if length is not None and array.shape[0] != length:
        raise RecordError(f"{name} must have {length} entries, got {array.shape[0]}")
    if not np.isfinite(array).all():
        raise RecordError(f"{name} holds NaN/inf values")


@dataclass(frozen=True, eq=False)
class SceneLabel:
    """One clip's scene under one labeller.

    vocabulary: (V,) the labels probabilities refer to, in order.
    probabilities: (V,) float32 softmax over the vocabulary, sums to 1 (None: CLIP off).
    embedding: (D,) float32 unit-length image embedding averaged over keyframes (None: CLIP off).
    label: argmax of probabilities, or `unknown` below the labeller's threshold (None: CLIP off).
    caption / caption_label / caption_similarity: the VLM's description, the vocabulary entry
    whose text embedding is nearest, and that cosine similarity (None: captions off).
    keyframes: JPEG bytes of the unmasked keyframes at `keyframe_times_s` (may be empty when
    the labeller was told not to store them).
    """

    clip_id: str
    labeller_id: str
    vocabulary: tuple[str, ...]
    keyframe_times_s: tuple[float, ...]
    keyframe_source: KeyframeSource
    clip_model_id: str | None = None
    clip_model_version: str | None = None
    label: str | None = None
    confidence: float | None = None
    probabilities: np.ndarray | None = None
    embedding: np.ndarray | None = None
    caption_model_id: str | None = None
    caption_model_version: str | None = None
    caption: str | None = None
    caption_label: str | None = None
    caption_similarity: float | None = None
    keyframes: tuple[bytes, ...] = ()
    labelled_at: str = field(default_factory=utc_now_iso)

    def __post_init__(self) -> None:
        if not self.clip_id or not self.labeller_id:
            raise RecordError("SceneLabel needs a clip_id and a labeller_id")
        object.__setattr__(self, "vocabulary", tuple(self.vocabulary))
        object.__setattr__(self, "keyframe_times_s", tuple(self.keyframe_times_s))
        object.__setattr__(self, "keyframes", tuple(self.keyframes))
        object.__setattr__(self, "keyframe_source", KeyframeSource(self.keyframe_source))
        if not self.vocabulary:
            raise RecordError(f"scene label of {self.clip_id} has an empty vocabulary")
        if not self.keyframe_times_s:
            raise RecordError(f"scene label of {self.clip_id} has no keyframe times")
        if self.keyframes and len(self.keyframes) != len(self.keyframe_times_s):
            raise RecordError("keyframes and keyframe_times_s differ in length")
        if self.label is None and self.caption is None:
            raise RecordError(f"scene label of {self.clip_id} has neither a label nor a caption")
        if self.label is not None:
            self._check_clip_fields()
        if self.caption is not None and self.caption_model_id is None:
            raise RecordError("a caption needs its caption_model_id")
        if self.caption_label is not None and self.caption_label not in self.vocabulary:
            raise RecordError(f"caption_label '{self.caption_label}' is not in the vocabulary")

    def _check_clip_fields(self) -> None:
        if self.label != UNKNOWN_SCENE and self.label not in self.vocabulary:
            raise RecordError(f"label '{self.label}' is neither in the vocabulary nor unknown")
        if self.clip_model_id is None or self.probabilities is None or self.embedding is None:
            raise RecordError("a CLIP label needs clip_model_id, probabilities and embedding")
        _check_vector("probabilities", self.probabilities, len(self.vocabulary))
        _check_vector("embedding", self.embedding)
        if abs(float(self.probabilities.sum()) - 1.0) > 1e-3 or self.probabilities.min() < 0:
            raise RecordError("probabilities must be non-negative and sum to 1")
        if self.confidence is None or not math.isfinite(self.confidence):
            raise RecordError("a CLIP label needs a finite confidence")
