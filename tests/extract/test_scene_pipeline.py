"""`stylemotion label-scenes` on clips extracted from the real sample videos.

A dataset is ingested once from real footage (MediaPipe included); each test labels a copy of
it with small random models of the real architectures, loaded from disk the way users load
real weights. Checked: one scenes shard per clip shard beside untouched clip shards, idempotent
re-runs, two labellers side by side and `--replace`, re-labelling from stored keyframes after
the videos are deleted, recorded skips for black footage and missing videos, clear errors.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from extract.scene_labels.keyframes import decode_jpeg
from flows.cli import main
from storage.scene_schema import table_to_scene_labels
from storage.shard_reader import ShardReader
from tests.extract.scene_models import build_scene_models
from tests.extract.video_samples import run_ffmpeg


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_scene_models(tmp_path_factory.mktemp("scene-models"))


@pytest.fixture(scope="module")
def extracted(shared_data: Path, pose_model: Path, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    for relative in ("footskate_reducer/dance.mp4", "gvhmr/tennis.mp4"):
        (folder / Path(relative).name).symlink_to(shared_data / "video" / relative)
    root = tmp_path_factory.mktemp("scene-dataset") / "root"
    arguments = ["ingest-videos", str(folder), "--style", "x", "--out", str(root)]
    assert main([*arguments, "--videos-per-shard", "1", "--sleep", "0"]) == 0
    assert len(ShardReader(root).shard_ids("clips")) == 2
    return root


@pytest.fixture
def root(extracted: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "root"
    shutil.copytree(extracted, copy)
    return copy


def _label(root: Path, models: dict[str, Path], *extra: str, model: str = "clip") -> int:
    return main(["label-scenes", str(root), "--model", f"local-dir:{models[model]}", *extra])


def _digests(root: Path, table: str) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((root / table).glob("*.parquet"))
    }


def test_labels_every_video_clip_beside_untouched_clip_shards(root, models, capsys) -> None:
    clips_before = _digests(root, "clips")
    assert _label(root, models, "--caption-model", str(models["caption"])) == 0
    out = capsys.readouterr().out
    assert "unknown rate" in out and "2 labelled now" in out
    reader = ShardReader(root)
    clips = {row["clip_id"]: row for row in reader.labels().to_pylist()}
    labels = list(table_to_scene_labels(reader.scenes()))
    assert {label.clip_id for label in labels} == set(clips) and len(clips) >= 2
    assert len(reader.shard_ids("scenes")) == 2 and _digests(root, "clips") == clips_before
    for label in labels:
        clip = clips[label.clip_id]
        end = clip["start_time_s"] + clip["num_frames"] / clip["fps"]
        assert all(clip["start_time_s"] < t < end for t in label.keyframe_times_s)
        assert len(label.keyframes) == 3 and label.keyframe_source == "video"
        assert max(decode_jpeg(label.keyframes[0]).size) == 384  # 1280x720 shrunk
        assert label.embedding.shape == (32,) and label.caption is not None
    assert main(["inspect", str(root), "--json"]) == 0
    (labeller,) = json.loads(capsys.readouterr().out)["scene_labellers"]
    assert labeller["clips"] == len(clips) and sum(labeller["labels"].values()) == len(clips)
    assert main(["inspect", str(root)]) == 0
    assert "scene labellers: 1" in capsys.readouterr().out
    scenes_before = _digests(root, "scenes")
    assert _label(root, models, "--caption-model", str(models["caption"])) == 0
    assert "0 labelled now, 2 already done" in capsys.readouterr().out
    assert _digests(root, "scenes") == scenes_before


def test_two_labellers_side_by_side_then_replace(root, models, capsys) -> None:
    assert _label(root, models, "--no-captions") == 0
    assert _label(root, models, "--no-captions", model="clip_other") == 0
    reader = ShardReader(root)
    labellers = set(reader.scenes()["labeller_id"].to_pylist())
    assert len(labellers) == 2 and len(reader.shard_ids("scenes")) == 4
    assert _label(root, models, "--no-captions", "--replace") == 0
    assert "2 scene shards removed" in capsys.readouterr().out
    remaining = set(ShardReader(root).scenes()["labeller_id"].to_pylist())
    assert len(remaining) == 1 and remaining < labellers


def test_relabelling_after_the_videos_are_gone_uses_stored_keyframes(root, models) -> None:
    assert _label(root, models, "--no-captions") == 0
    first = {s.clip_id: s for s in table_to_scene_labels(ShardReader(root).scenes())}
    shutil.rmtree(root / "media")
    assert _label(root, models, "--no-captions", "--threshold", "0.01") == 0
    scenes = ShardReader(root).scenes()
    second = [s for s in table_to_scene_labels(scenes) if s.labeller_id not in {
        label.labeller_id for label in first.values()
    }]  # fmt: skip
    assert {s.clip_id for s in second} == set(first)
    for label in second:
        assert label.keyframe_source == "stored"
        np.testing.assert_allclose(label.embedding, first[label.clip_id].embedding, atol=1e-6)


def test_missing_videos_and_black_footage_are_recorded_skips(root, models, capsys) -> None:
    media = sorted((root / "media").iterdir())
    media[0].unlink()  # gone, never labelled: nothing stored to fall back on
    run_ffmpeg(
        *("-f", "lavfi", "-i", "color=c=black:s=640x360:r=30:d=12"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-f", "mp4", media[1]),
    )  # same name, now black footage
    assert _label(root, models, "--no-captions") == 0
    out = capsys.readouterr().out
    assert "VideoMissing" in out and "BlackFrame" in out and "0 clips labelled, 2 skipped" in out
    failures = [f for f in ShardReader(root).failures() if f.stage == "scene"]
    assert {f.error_kind for f in failures} == {"VideoMissing", "BlackFrame"}
    assert ShardReader(root).scenes().num_rows == 0
    assert len(ShardReader(root).shard_ids("scenes")) == 2  # done: a re-run will not retry


def test_bad_settings_stop_with_a_message_naming_them(root, models, tmp_path, capsys) -> None:
    assert _label(root, models, model="caption") == 2
    assert "--model / STYLEMOTION_SCENE_MODEL" in capsys.readouterr().err
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("park\nstreet\nPark\n")
    assert _label(root, models, "--vocab", str(vocab)) == 2
    assert "'Park' (entry 3) duplicates entry 1" in capsys.readouterr().err
    assert main(["label-scenes", str(root), "--caption-model", str(models["clip"])]) == 2
    assert "STYLEMOTION_SCENE_MODEL" in capsys.readouterr().err  # no CLIP model set at all
    assert ShardReader(root).shard_ids("scenes") == []
