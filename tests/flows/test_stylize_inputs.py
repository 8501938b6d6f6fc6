"""BVH references and sources behave as given: a file is that file, a folder that folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.jobs.stylize_inputs import StylizeInputError, resolve_motion_input

FILES = ("dataset-1_bow_angry_001.bvh", "dataset-1_walk_happy_001.bvh")


def test_a_file_is_that_file_and_a_folder_that_folder(bandai_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    one = resolve_motion_input([str(bandai_dir / FILES[0])], work, "style")
    assert [clip.source_uri.rsplit("/", 1)[-1] for clip in one] == [FILES[0]]
    assert one[0].style == "angry"  # the label sidecar came along
    two = resolve_motion_input([str(bandai_dir / name) for name in FILES], work, "style")
    assert sorted(clip.source_uri.rsplit("/", 1)[-1] for clip in two) == sorted(FILES)
    folder = tmp_path / "refs"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_bytes((bandai_dir / name).read_bytes())
    assert len(resolve_motion_input([str(folder)], work, "style")) == 2
    again = resolve_motion_input([str(bandai_dir / FILES[0])], work, "style")
    assert [clip.clip_id for clip in again] == [clip.clip_id for clip in one]  # no second copy


def test_a_dataset_root_holding_crawled_videos_is_read_as_a_root(
    bandai_dir: Path, tmp_path: Path
) -> None:
    from extract.mocap.ingest import MocapIngestConfig, ingest_mocap

    root = tmp_path / "root"
    ingest_mocap(MocapIngestConfig(str(bandai_dir), str(root), only_files=FILES, dataset="refs"))
    (root / "media").mkdir()
    (root / "media" / "crawled.mp4").write_bytes(b"not read")  # as a crawl leaves it
    clips = resolve_motion_input([str(root)], tmp_path / "work", "source")
    assert sorted(clip.source_uri.rsplit("/", 1)[-1] for clip in clips) == sorted(FILES)


def test_an_unknown_input_is_refused_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(StylizeInputError, match="notes.txt: not a dataset root"):
        resolve_motion_input([str(tmp_path / "notes.txt")], tmp_path / "work", "style")
