"""The shared style vocabulary: the default mapping, its refusals, and the ingest applying it."""

from __future__ import annotations

from pathlib import Path

import pytest

from extract.mocap.ingest import MocapIngestConfig, ingest_mocap
from extract.mocap.style_vocabulary import VocabularyFileError, load_style_vocabulary
from flows.cli import main
from storage.shard_reader import ShardReader
from tests.extract.test_dataset2_layout import _dataset2_subset


def test_the_default_maps_dataset_2_names_onto_dataset_1s() -> None:
    vocabulary = load_style_vocabulary()
    assert vocabulary.shared_name("bandai_namco_2", "elderly") == "old"
    assert vocabulary.shared_name("bandai_namco_2", "youthful") == "childish"
    assert vocabulary.shared_name("bandai_namco_2", "normal") == "normal"
    assert vocabulary.shared_name("bandai_namco_1", "elderly") == "elderly"  # per dataset
    assert vocabulary.resolve("exhausted") == "tired" and vocabulary.resolve("tired") == "tired"
    assert vocabulary.unmapped("bandai_namco_2", {"active", "old"}) == ["active"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("version: 1\naliases:\n  a: x\n  a: y\n", "given twice"),
        ("version: 1\naliases: &m {a: x}\ndatasets: {d: *m}\n", "anchors/aliases"),
        ("version: 1\naliases: {a: b, b: c}\n", "chain"),
        ("version: 1\naliases: {a: 3}\n", "map style names to style names"),
        ("aliases: {a: b}\n", "version: 1"),
        ("version: 1\nstyles: {}\n", "unknown keys"),
        ("version: 1\naliases: [\n", "line"),
        ("version: 1\n" + "# x\n" * 70000, "larger than"),
    ],
)
def test_a_bad_vocabulary_file_is_one_line(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "v.yaml"
    path.write_text(text)
    with pytest.raises(VocabularyFileError, match="v.yaml") as caught:
        load_style_vocabulary(path)
    message = str(caught.value)
    assert needle in message and len(message.splitlines()) == 1


def test_one_name_meaning_two_styles_must_be_asked_by_shared_name(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text("version: 1\ndatasets:\n  a: {slow: old}\n  b: {slow: tired}\n")
    vocabulary = load_style_vocabulary(path)
    assert vocabulary.shared_name("a", "slow") == "old"
    with pytest.raises(VocabularyFileError, match="means"):
        vocabulary.resolve("slow")


def test_ingest_stores_shared_names_and_keeps_the_original(shared_data: Path, tmp_path: Path):
    _dataset2_subset(shared_data, tmp_path / "bandai_namco_2")
    config = MocapIngestConfig(str(tmp_path / "bandai_namco_2"), str(tmp_path / "ds"))
    summary = ingest_mocap(config)
    assert summary.style_names == {"elderly": "old", "youthful": "childish"}
    rows = ShardReader(tmp_path / "ds").labels().to_pylist()
    pairs = {(row["style"], row["style_original"]) for row in rows}
    assert pairs == {("old", "elderly"), ("childish", "youthful"), ("normal", None)}


def test_a_changed_vocabulary_rederives_and_a_bad_one_is_refused_first(
    shared_data: Path, tmp_path: Path, capsys
) -> None:
    _dataset2_subset(shared_data, tmp_path / "bandai_namco_2")
    argv = ["ingest-mocap", str(tmp_path / "bandai_namco_2"), "--out", str(tmp_path / "ds")]
    assert main(argv) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\naliases: {old: elderly, elderly: old}\n")
    capsys.readouterr()
    assert main([*argv, "--style-vocabulary", str(bad)]) == 2
    assert "chain" in capsys.readouterr().err
    mine = tmp_path / "mine.yaml"
    mine.write_text("version: 1\naliases: {elderly: senior}\n")
    assert main([*argv, "--style-vocabulary", str(mine)]) == 0
    styles = set(ShardReader(tmp_path / "ds").labels()["style"].to_pylist())
    assert styles == {"senior", "youthful", "normal"}  # re-derived, the old shards removed
