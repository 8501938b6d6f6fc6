"""MotionClip / FailureRecord contracts: bad arrays fail where the record is built."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from storage.canonical import facing_yaw, floor_height
from storage.records import FailureRecord, RecordError, Split, make_clip_id
from tests.storage.clip_factory import make_clip


def test_clip_properties_and_canonical_frame() -> None:
    clip = make_clip(0, num_frames=60)
    assert clip.num_frames == 60 and clip.duration_s == pytest.approx(2.0)
    assert abs(facing_yaw(clip.positions)[0]) < 1e-6  # faces +z at frame 0
    assert abs(floor_height(clip.positions)) < 1e-6
    assert np.allclose(clip.positions[0, 0, [0, 2]], 0.0, atol=1e-6)
    assert clip.root_trajectory[-1, 1] > 1.0  # walked forward along +z


@pytest.mark.parametrize(
    ("field", "bad", "reason"),
    [
        ("positions", np.zeros((10, 18, 3), np.float32), "shape"),
        ("positions", np.zeros((10, 19, 3), np.float64), "float32"),
        ("positions", np.full((40, 19, 3), np.nan, np.float32), "NaN"),
        ("positions", np.zeros((0, 19, 3), np.float32), "zero frames"),
        ("confidence", np.full((40, 19), 2.0, np.float32), "[0, 1]"),
        ("fps", 0.0, "fps"),
        ("split", "holdout", "holdout"),
    ],
)
def test_bad_values_are_refused_with_the_reason(field: str, bad: object, reason: str) -> None:
    clip = make_clip(0)
    with pytest.raises(ValueError) as error:
        dataclasses.replace(clip, **{field: bad})
    assert reason in str(error.value)


def test_split_and_ids_are_normalised_and_deterministic() -> None:
    clip = dataclasses.replace(make_clip(0), split="test")
    assert clip.split is Split.TEST
    assert make_clip_id("a", 1) == make_clip_id("a", 1) != make_clip_id("a", 2)


def test_failure_record_needs_a_reason() -> None:
    with pytest.raises(RecordError, match="message"):
        FailureRecord(
            source_uri="file:///x.bvh", dataset="d", stage="s", error_kind="k", message=""
        )
