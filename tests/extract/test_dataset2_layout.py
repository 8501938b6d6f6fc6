"""Bandai Namco dataset-2's official layout (`cfg/` label lists, files in `data/`) ingests with
its labels and no flags; label files without their lists are a warning, never silence."""

from __future__ import annotations

from pathlib import Path

import pytest

from extract.mocap.ingest import MocapIngestConfig, ingest_mocap
from flows.cli import main
from storage.shard_reader import ShardReader

CELLS = ("wave-left-hand_elderly", "raise-up-right-hand_youthful", "walk_normal")


def _dataset2_subset(shared_data: Path, target: Path, with_lists: bool = True) -> int:
    """Symlink two takes of a few (content, style) cells in the official layout."""
    source = shared_data / "motion" / "bandai_namco_2"
    (target / "data").mkdir(parents=True)
    if with_lists:
        (target / "cfg").symlink_to(source / "cfg")
    count = 0
    for cell in CELLS:
        for path in sorted((source / "data").glob(f"dataset-2_{cell}_*.bvh"))[:2]:
            for suffix in (".bvh", ".json"):
                (target / "data" / (path.stem + suffix)).symlink_to(path.with_suffix(suffix))
            count += 1
    return count


@pytest.mark.parametrize("given", ["root", "data folder"])
def test_official_layout_ingests_with_labels(shared_data: Path, tmp_path: Path, given: str):
    files = _dataset2_subset(shared_data, tmp_path / "bandai_namco_2")
    source = tmp_path / "bandai_namco_2" / ("data" if given == "data folder" else "")
    summary = ingest_mocap(MocapIngestConfig(str(source), str(tmp_path / "ds"), dataset="b2"))
    assert (summary.clips, summary.failures, summary.unlabelled) == (files, 0, 0)
    assert summary.label_warning is None
    rows = ShardReader(tmp_path / "ds").labels().to_pylist()
    cells = {f"{row['content']}_{row['style']}" for row in rows}
    assert cells == set(CELLS)
    assert all(row["take"] and row["take"].isdigit() for row in rows)


def test_label_files_without_their_lists_are_a_warning(shared_data: Path, tmp_path: Path, capsys):
    files = _dataset2_subset(shared_data, tmp_path / "src", with_lists=False)
    capsys.readouterr()
    assert main(["ingest-mocap", str(tmp_path / "src"), "--out", str(tmp_path / "ds")]) == 0
    captured = capsys.readouterr()
    assert f"WARNING: {tmp_path / 'src'}: {files} JSON label file(s)" in captured.err
    assert "content_label.txt" in captured.err and "--label-pattern" in captured.err
    assert f"{files} clip(s) of src have no style label" in captured.out
