"""The `stylemotion` command line on the real Bandai set: ingest, inspect, list, export, render."""

from __future__ import annotations

import json
from pathlib import Path

import ffmpeg
import numpy as np
import pytest

from extract.mocap.bvh_import import import_bvh
from flows.cli import main
from storage.shard_reader import ShardReader


@pytest.fixture(scope="module")
def bandai_root(bandai_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "dataset"
    assert main(["ingest-mocap", str(bandai_dir), "--out", str(root), "--strict"]) == 0
    return root


def test_inspect_json_reports_the_dataset_card(bandai_root: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["inspect", str(bandai_root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["clips"] == 174 and report["frames"] == 31914
    assert len(report["styles"]) == 15 and len(report["contents"]) == 16
    assert report["failures"] == 0 and report["minutes"] == pytest.approx(17.73, abs=0.01)


def test_inspect_text_and_list_clips(bandai_root: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["inspect", str(bandai_root)]) == 0
    text = capsys.readouterr().out
    assert "clips: 174" in text and "not-confident" in text
    assert main(["list-clips", str(bandai_root), "--style", "happy", "--content", "walk"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 and all(row[2:4] == ["happy", "walk"] for row in rows)


def _happy_walk_id(root: Path) -> str:
    labels = ShardReader(root).labels().to_pylist()
    return next(r["clip_id"] for r in labels if r["source_uri"].endswith("walk_happy_001.bvh"))


def test_export_bvh_reimports_close_to_the_stored_clip(bandai_root: Path, tmp_path: Path) -> None:
    clip_id = _happy_walk_id(bandai_root)
    out = tmp_path / "happy_walk.bvh"
    assert main(["export-bvh", str(bandai_root), clip_id, str(out)]) == 0
    stored = ShardReader(bandai_root).get_clip(clip_id)
    again = import_bvh(out, dataset="roundtrip", source_key=out.name)
    error = np.linalg.norm(again.positions - stored.positions, axis=-1)  # (T, J) metres
    assert again.num_frames == stored.num_frames and error.mean() < 0.01


def test_render_writes_a_playable_video(bandai_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "preview.mp4"
    assert main(["render", str(bandai_root), _happy_walk_id(bandai_root), str(out)]) == 0
    stream = ffmpeg.probe(str(out))["streams"][0]
    assert stream["codec_name"] == "h264" and int(stream["nb_frames"]) == 213


def test_errors_name_the_input(tmp_path: Path, bandai_root: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "missing")]) == 2
    assert "no such file or directory (ROOT)" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["inspect", str(tmp_path / "empty")]) == 2
    assert "no finished shards" in capsys.readouterr().err
    assert main(["render", str(bandai_root), "0000000000000000", str(tmp_path / "x.mp4")]) == 2
    assert "no clip '0000000000000000'" in capsys.readouterr().err
    assert main(["ingest-mocap", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file or directory (SRC_DIR)" in capsys.readouterr().err
