"""Label sources for mocap files: Bandai JSON indices (cross-checked with names) and regexes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from extract.mocap.labels import JsonIndexLabels, LabelError, PatternLabels, find_label_config


@pytest.fixture
def bandai_copy(bandai_dir: Path, tmp_path: Path) -> Path:
    """A copy of the Bandai label config and two labelled files, to damage safely."""
    shutil.copytree(bandai_dir / "_meta", tmp_path / "_meta")
    for stem in ("dataset-1_walk_happy_001", "dataset-1_bow_angry_001"):
        for suffix in (".bvh", ".json"):
            shutil.copy(bandai_dir / f"{stem}{suffix}", tmp_path / f"{stem}{suffix}")
    return tmp_path


def test_bandai_json_labels_match_the_file_names(bandai_dir: Path) -> None:
    labels = JsonIndexLabels(find_label_config(bandai_dir))
    assert len(labels.styles) == 15 and len(labels.contents) == 17
    happy_walk = labels.labels_for(bandai_dir / "dataset-1_walk_happy_001.bvh")
    assert (happy_walk.style, happy_walk.content, happy_walk.take) == ("happy", "walk", "001")
    odd = labels.labels_for(bandai_dir / "dataset-1_walk-back_not-confident_001.bvh")
    assert (odd.style, odd.content) == ("not-confident", "walk-back")


def test_missing_label_file_is_named(bandai_copy: Path) -> None:
    (bandai_copy / "dataset-1_bow_angry_001.json").unlink()
    labels = JsonIndexLabels(find_label_config(bandai_copy))
    with pytest.raises(LabelError, match=r"dataset-1_bow_angry_001\.json: label file missing"):
        labels.labels_for(bandai_copy / "dataset-1_bow_angry_001.bvh")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ('{"content": 0, "style": 0}', "contradictory labels"),
        ('{"content": 6, "style": 99}', "'style' must be an index below 15"),
        ("{not json", "unreadable label file"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_label_files_are_refused(bandai_copy: Path, payload: str, reason: str) -> None:
    (bandai_copy / "dataset-1_bow_angry_001.json").write_text(payload)
    labels = JsonIndexLabels(find_label_config(bandai_copy))
    with pytest.raises(LabelError, match=reason) as error:
        labels.labels_for(bandai_copy / "dataset-1_bow_angry_001.bvh")
    assert "dataset-1_bow_angry_001.json" in str(error.value)


def test_pattern_labels_for_the_m21_layout() -> None:
    pattern = PatternLabels(
        r"style/(?P<style>[A-Za-z]+)(?:-(?P<take>\d+))?|content/(?P<content>.+)"
    )
    old = pattern.labels_for("style/OLD-2")
    assert (old.style, old.take, old.content) == ("old", "2", None)
    assert pattern.labels_for("content/jumping-jack").content == "jumping-jack"
    with pytest.raises(LabelError, match="does not match"):
        pattern.labels_for("elsewhere/x")


def test_bad_patterns_are_refused() -> None:
    with pytest.raises(LabelError, match="not a valid regex"):
        PatternLabels("(?P<style>")
    with pytest.raises(LabelError, match="style/content/take"):
        PatternLabels("(?P<mood>.+)")


def test_no_label_config_found(tmp_path: Path) -> None:
    assert find_label_config(tmp_path) is None
