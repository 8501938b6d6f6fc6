"""A root holding several datasets never merges two sources into one name, nor one into two."""

from __future__ import annotations

from pathlib import Path

from flows.cli import main
from storage.shard_reader import ShardReader
from tests.extract.test_mocap_ingest import _bandai_subset


def _ingest(source: Path, root: Path, name: str) -> list[str]:
    return ["ingest-mocap", str(source), "--out", str(root), "--dataset", name]


def test_two_sources_one_name_and_one_source_two_names_are_refused(
    bandai_dir: Path, tmp_path: Path, capsys
) -> None:
    walks, bows = tmp_path / "walks", tmp_path / "bows"
    _bandai_subset(bandai_dir, walks, ("walk",))
    _bandai_subset(bandai_dir, bows, ("bow",))
    root = tmp_path / "ds"
    assert main(_ingest(walks, root, "a")) == 0
    before = sorted(ShardReader(root).labels()["clip_id"].to_pylist())
    capsys.readouterr()
    assert main(_ingest(bows, root, "a")) == 2  # would supersede (delete) the walks
    assert "already holds clips from" in capsys.readouterr().err
    assert main(_ingest(walks, root, "b")) == 2  # every walk twice
    assert "would hold every clip twice" in capsys.readouterr().err
    assert sorted(ShardReader(root).labels()["clip_id"].to_pylist()) == before
    assert main(_ingest(bows, root, "b")) == 0 and main(_ingest(walks, root, "a")) == 0
    assert set(ShardReader(root).labels()["dataset"].to_pylist()) == {"a", "b"}
