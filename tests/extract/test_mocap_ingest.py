"""Mocap ingest end to end on the real Bandai and m21 sets: counts, bad files, kill and resume."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from extract.mocap.ingest import IngestError, MocapIngestConfig, ingest_mocap
from storage.shard_reader import ShardReader
from storage.skeleton import JOINT_INDEX
from storage.summary import summarise_dataset

M21_PATTERN = r"style/(?P<style>[A-Za-z]+)(?:-(?P<take>\d+))?|content/(?P<content>.+)"


def _bandai_subset(bandai_dir: Path, target: Path, contents: tuple[str, ...]) -> list[str]:
    """Symlink the Bandai files of some contents (and the label config) into `target`."""
    target.mkdir()
    (target / "_meta").symlink_to(bandai_dir / "_meta")
    names = []
    for path in sorted(bandai_dir.glob("*.bvh")):
        if path.stem.split("_")[1] in contents:
            for suffix in (".bvh", ".json"):
                (target / (path.stem + suffix)).symlink_to(path.with_suffix(suffix))
            names.append(path.name)
    return names


def _fingerprint(root: Path) -> dict[str, str]:
    """clip id -> hash of its labels and arrays, to compare two datasets exactly."""
    result = {}
    for clip in ShardReader(root).iter_clips():
        digest = hashlib.sha1(clip.positions.tobytes() + clip.root_trajectory.tobytes())
        digest.update(f"{clip.style}|{clip.content}|{clip.split}|{clip.take}".encode())
        assert clip.clip_id not in result, f"duplicate clip {clip.clip_id}"
        result[clip.clip_id] = digest.hexdigest()
    return result


def test_bandai_ingest_matches_the_dataset_card(bandai_dir: Path, tmp_path: Path) -> None:
    config = MocapIngestConfig(
        str(bandai_dir), str(tmp_path / "ds"), test_contents=("guide", "byebye")
    )
    summary = ingest_mocap(config)
    assert (summary.clips, summary.frames, summary.failures) == (174, 31914, 0)
    report = summarise_dataset(ShardReader(tmp_path / "ds"))
    assert (report.clips, report.frames, report.failures) == (174, 31914, 0)
    assert len(report.styles) == 15 and len(report.contents) == 16
    assert report.splits == {"train": 144, "test": 30}
    assert report.datasets == {"bandai_namco_1": 174}
    again = ingest_mocap(config)  # a re-run finds every shard done
    assert again.shards_written == 0 and again.shards_skipped == summary.shards_written


def test_m21_ingests_at_human_scale(m21_dir: Path, tmp_path: Path) -> None:
    config = MocapIngestConfig(str(m21_dir), str(tmp_path / "ds"), label_pattern=M21_PATTERN)
    summary = ingest_mocap(config)
    assert (summary.clips, summary.failures) == (18, 0)
    clips = list(ShardReader(tmp_path / "ds").iter_clips())
    for clip in clips:
        pelvis_height = float(np.median(clip.positions[:, JOINT_INDEX["pelvis"], 1]))
        assert 0.8 <= pelvis_height <= 1.2, f"{clip.source_uri}: pelvis at {pelvis_height:.2f} m"
        assert clip.fps == 30.0
    styles = {c.style for c in clips if c.style}
    assert styles == {"depressed", "happy", "old", "sneaky", "strutting", "zombie"}
    assert sum(c.content is not None for c in clips) == 10


def _write_bad_inputs(source: Path, good: Path) -> dict[str, str]:
    """Damaged copies of a real file; returns file name -> expected reason fragment."""
    text = good.read_text()
    lines = text.splitlines()
    motion = lines.index("MOTION")
    bad = {
        "dataset-1_walk_sad_901.bvh": ("\n".join(lines[: motion + 10]) + "\n0 1 2", "values"),
        "dataset-1_walk_sad_902.bvh": (text.replace(lines[motion + 5], "nan " * 132, 1), "NaN"),
        "dataset-1_walk_sad_903.bvh": (text[: text.index("MOTION") - 20], "MOTION"),
        "dataset-1_walk_sad_904.bvh": (text.replace("Hand", "Paw_XYZ"), "unknown hierarchy"),
        "dataset-1_walk_sad_905.bvh": (
            text.split("Frames:")[0] + "Frames: 0\nFrame Time: 0.0333333\n",
            "frames",
        ),
    }
    for name, (content, _) in bad.items():
        (source / name).write_text(content)
        (source / name).with_suffix(".json").write_text('{"content": 0, "style": 2}')
    (source / "dataset-1_walk_sad_906.bvh").write_text(text)  # no JSON beside it
    (source / "dataset-1_walk_sad_907.bvh").symlink_to(source / "gone.bvh")
    expected = {name: reason for name, (_, reason) in bad.items()}
    expected["dataset-1_walk_sad_906.bvh"] = "label file missing"
    expected["dataset-1_walk_sad_907.bvh"] = "missing or not a regular file"
    return expected


def test_bad_files_are_recorded_and_the_rest_continues(bandai_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "src"
    good = _bandai_subset(bandai_dir, source, ("walk",))
    expected = _write_bad_inputs(source, bandai_dir / "dataset-1_walk_sad_001.bvh")
    summary = ingest_mocap(MocapIngestConfig(str(source), str(tmp_path / "ds"), shard_size=8))
    assert summary.clips == len(good) and summary.failures == len(expected)
    failures = {
        Path(f.message.split(":")[0]).name: f for f in ShardReader(tmp_path / "ds").failures()
    }
    assert set(failures) == set(expected)
    for name, reason in expected.items():
        assert reason.lower() in failures[name].message.lower(), failures[name].message
        assert failures[name].stage == "ingest-mocap" and failures[name].source_uri.endswith(name)


def test_missing_source_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="not a readable directory"):
        ingest_mocap(MocapIngestConfig(str(tmp_path / "nowhere"), str(tmp_path / "ds")))


def _ingest_command(source: Path, out: Path) -> list[str]:
    cli = Path(sys.executable).with_name("stylemotion")
    return [str(cli), "ingest-mocap", str(source), "--out", str(out), "--shard-size", "3"]


def _kill_after_some_shards(command: list[str], done_dir: Path, wanted: int) -> int:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if done_dir.is_dir() and len(list(done_dir.glob("*.json"))) >= wanted:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    process.wait()
    return process.returncode


def _corrupt_one_shard(root: Path, chooser: random.Random) -> str:
    """Damage one finished clip shard the way disks and people do; return what was done."""
    shard = chooser.choice(sorted((root / "clips").glob("*.parquet")))
    how = chooser.choice(["truncate", "delete", "flip-footer", "empty"])
    data = bytearray(shard.read_bytes())
    if how == "truncate":
        shard.write_bytes(bytes(data[: chooser.randrange(1, len(data))]))
    elif how == "delete":
        shard.unlink()
    elif how == "flip-footer":
        data[-12:-8] = bytes(chooser.randrange(256) for _ in range(4))
        shard.write_bytes(bytes(data))
    else:
        shard.write_bytes(b"")
    return f"{how} {shard.name}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_at_a_random_point_corrupt_a_shard_and_resume(
    bandai_dir: Path, tmp_path: Path, seed: int
) -> None:
    """Killed after a random number of shards, one random shard damaged: the re-run restores
    exactly the uninterrupted result (no clip lost, none twice, no temporary file left)."""
    chooser = random.Random(seed)
    source = tmp_path / "src"
    _bandai_subset(bandai_dir, source, ("walk", "run", "dash", "bow", "bye"))
    reference = tmp_path / "reference"
    subprocess.run(_ingest_command(source, reference), check=True, capture_output=True)
    total_shards = len(ShardReader(reference).shard_ids())
    killed = tmp_path / "killed"
    wanted = chooser.randrange(2, total_shards - 2)
    returncode = _kill_after_some_shards(_ingest_command(source, killed), killed / "_done", wanted)
    assert returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    assert wanted <= len(ShardReader(killed).shard_ids()) < total_shards
    assert len(_fingerprint(killed)) < len(_fingerprint(reference))  # readers see whole shards only
    damage = _corrupt_one_shard(killed, chooser)
    assert len(ShardReader(killed).damaged_shards()) == 1, damage
    subprocess.run(_ingest_command(source, killed), check=True, capture_output=True)
    assert ShardReader(killed).damaged_shards() == [], damage
    assert _fingerprint(killed) == _fingerprint(reference), damage
    assert not list(killed.rglob(".tmp-*"))


def test_unreadable_subdirectory_is_recorded(m21_dir: Path) -> None:
    """A real permission failure: as root the ingest runs as `nobody` (setpriv), else as is."""
    base = Path(tempfile.mkdtemp(prefix="stylemotion-perm-"))
    try:
        (base / "src" / "locked").mkdir(parents=True)
        shutil.copy(m21_dir / "content" / "walk.bvh", base / "src" / "walk.bvh")
        shutil.copy(m21_dir / "content" / "hop.bvh", base / "src" / "locked" / "hop.bvh")
        (base / "src" / "locked").chmod(0)
        base.chmod(0o777)
        command = _ingest_command(base / "src", base / "out")
        if os.geteuid() == 0:
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=base, timeout=120)
        reader = ShardReader(base / "out")
        assert [c.source_uri.rsplit("/", 1)[-1] for c in reader.iter_clips()] == ["walk.bvh"]
        [failure] = reader.failures()
        assert failure.error_kind == "PermissionError" and "locked" in failure.message
        assert "Permission denied" in failure.message
    finally:
        (base / "src" / "locked").chmod(0o755)
        shutil.rmtree(base)
