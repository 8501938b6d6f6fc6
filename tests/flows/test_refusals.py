"""Every user error of the reliability probe (docs/RELIABILITY.md) refused in one line, early.

Each test runs the real command line (`flows.cli.main`) on real Bandai files and asserts the
contract: exit 2, one stderr line `stylemotion CMD: error: <input>: <reason>`, no traceback,
nothing written before the refusal, and data roots that heal when the stage is re-run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows.cli import main
from storage.shard_reader import ShardReader
from tests.extract.test_mocap_ingest import _bandai_subset, _fingerprint
from tests.flows.cli_refusal import assert_refused

CONTENTS = ("walk", "guide", "bow")  # 60 files: 15 styles x (walk 001 + 002, guide, bow)


@pytest.fixture(scope="module")
def source(bandai_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return_dir = tmp_path_factory.mktemp("refusals") / "src"
    _bandai_subset(bandai_dir, return_dir, CONTENTS)
    return return_dir


@pytest.fixture(scope="module")
def reference(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reference") / "ds"
    assert main(["ingest-mocap", str(source), "--out", str(root), "--shard-size", "8"]) == 0
    return root


def _ingest(source: Path, root: Path, *extra: str) -> list[str]:
    return ["ingest-mocap", str(source), "--out", str(root), "--shard-size", "8", *extra]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--val-fraction", "2"), "val_fraction"),  # 6.18
        (("--val-fraction", "nan"), "val_fraction"),
        (("--scale", "-1"), "--scale -1"),  # 6.19
        (("--scale", "inf"), "--scale inf"),
        (("--shard-size", "0"), "--shard-size 0"),  # 6.17
        (("--label-pattern", "(?P<style>["), "not a valid regex"),  # 6.20
        (("--test-takes", "walk"), "CONTENT:TAKE"),
    ],
)
def test_impossible_ingest_settings_are_refused_before_any_work(
    source: Path, tmp_path: Path, capsys, extra: tuple[str, ...], needle: str
) -> None:
    root = tmp_path / "ds"
    assert_refused(capsys, _ingest(source, root, *extra), needle)
    assert not (root / "_done").exists() and not (root / "clips").exists()
    assert main(_ingest(source, root)) == 0  # the corrected run is never stuck
    assert len(ShardReader(root).labels()) == 60


def test_a_source_that_is_a_symlink_loop(tmp_path: Path, capsys) -> None:  # 1.19
    loop = tmp_path / "selfloop"
    loop.symlink_to(loop)
    assert_refused(capsys, ["ingest-mocap", str(loop), "--out", str(tmp_path / "o")], "selfloop")


def test_outputs_that_cannot_be_written(
    source: Path, reference: Path, tmp_path: Path, capsys
) -> None:  # 6.13-6.15
    regular = tmp_path / "afile"
    regular.write_text("x")
    below = str(regular / "x")
    assert_refused(capsys, _ingest(source, Path(below)), "afile/x", "cannot write here")
    argv = ["train-encoders", "--data", str(reference), "--out", below, "--set", "steps=1"]
    assert_refused(capsys, argv, "cannot write here")
    argv = ["stylize", "--run", str(tmp_path), "--source", str(reference), "--style", "angry"]
    assert_refused(capsys, [*argv, "--out", below], "cannot write here")


@pytest.mark.parametrize(
    ("setting", "needle"),
    [
        ("steps=-3", "steps=-3: must be > 0"),  # 6.6
        ("model.d_model=abc", "expected an integer"),  # 6.8
        ("model.d_model=0", "must be > 0"),  # 6.9
        ("learning_rate=.nan", "finite"),  # 6.10
        ("augment=maybe", "expected true or false"),
    ],
)
def test_bad_set_values_are_refused(
    reference: Path, tmp_path: Path, capsys, setting: str, needle: str
) -> None:
    argv = ["train-encoders", "--data", str(reference), "--out", str(tmp_path / "run")]
    assert_refused(capsys, [*argv, "--set", setting], needle)
    assert not (tmp_path / "run" / "last.pt").exists()


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--strength", "11"), ("--strength", "-1"), ("--strength", "nan"), ("--steps", "0")],
)
def test_stylize_parameters_are_checked_before_the_model_loads(
    reference: Path, tmp_path: Path, capsys, flag: str, value: str
) -> None:  # 6.1-6.4: the run directory holds no model at all, so loading would fail otherwise
    argv = ["stylize", "--run", str(tmp_path), "--source", str(reference), "--style", "angry"]
    assert_refused(capsys, [*argv, "--out", str(tmp_path / "o"), flag, value], f"{flag} {value}")
    assert not (tmp_path / "o" / "dataset").exists()


def _copy(reference: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(reference, target)
    return target


def _first_clip_shard(root: Path) -> Path:
    return sorted((root / "clips").glob("*.parquet"))[0]


@pytest.mark.parametrize("damage", ["truncate", "delete", "future-schema"])
def test_a_damaged_shard_is_listed_the_rest_readable_and_a_rerun_repairs_it(
    source: Path, reference: Path, tmp_path: Path, capsys, damage: str
) -> None:  # 5.1-5.4
    root = _copy(reference, tmp_path / "ds")
    shard = _first_clip_shard(root)
    lost = pq.read_metadata(shard).num_rows
    if damage == "truncate":
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    elif damage == "delete":
        shard.unlink()
    else:
        table = pq.read_table(shard)
        metadata = dict(table.schema.metadata) | {b"stylemotion.schema_version": b"99"}
        pq.write_table(table.replace_schema_metadata(metadata), shard)
    capsys.readouterr()
    assert main(["inspect", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["clips"] == 60 - lost
    assert [d.split(":")[0] for d in report["damaged_shards"]] == [shard.stem]
    assert main(["list-clips", str(root), "--ids-only"]) == 0
    assert len(capsys.readouterr().out.split()) == 60 - lost
    assert main(_ingest(source, root)) == 0
    if damage == "future-schema":  # written by a newer stylemotion: left alone, still named
        assert len(ShardReader(root).damaged_shards()) == 1
        return
    assert ShardReader(root).damaged_shards() == []
    assert _fingerprint(root) == _fingerprint(reference)


def test_a_changed_split_rederives_the_shards(source: Path, reference: Path, tmp_path: Path):
    root = _copy(reference, tmp_path / "ds")  # 5.6: ingested with no held-out content
    assert set(ShardReader(root).labels()["split"].to_pylist()) == {"train"}
    held_out = ("--test-contents", "guide", "--test-takes", "walk:002", "--val-fraction", "0.2")
    assert main(_ingest(source, root, *held_out)) == 0
    labels = ShardReader(root).labels().to_pylist()
    assert len(labels) == 60
    test = {(row["content"], row["take"]) for row in labels if row["split"] == "test"}
    assert {content for content, _ in test} == {"guide", "walk"}
    assert all(take == "002" for content, take in test if content == "walk")
    assert not any(row["split"] == "train" and row["content"] == "guide" for row in labels)
    assert "val" in {row["split"] for row in labels}
    settings = {stats.settings_json for stats in ShardReader(root).stats()}
    assert len(settings) == 1 and '"test_contents":["guide"]' in settings.pop()


@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [
        ("--strengths", "1,nan", "--strengths 1,nan"),
        ("--strengths", "11", "--strengths 11"),
        ("--ddim-steps", "0", "--ddim-steps 0"),
        ("--source-noise", "0", "--source-noise 0"),
        ("--seeds", "a", "bad number list"),
    ],
)
def test_evaluate_parameters_are_checked_before_anything_loads(
    reference: Path, tmp_path: Path, capsys, flag: str, value: str, needle: str
) -> None:  # the evaluator directory holds nothing: loading it would fail otherwise
    argv = ["evaluate", "--data", str(reference), "--evaluator", str(tmp_path), flag, value]
    assert_refused(capsys, argv, needle)
