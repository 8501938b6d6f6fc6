"""The `ingest-mocap` Prefect flow on the real Bandai set under the session's Prefect server."""

from __future__ import annotations

from pathlib import Path

from extract.mocap.ingest import MocapIngestConfig, ingest_mocap
from flows.mocap_flows import ingest_mocap_flow
from storage.shard_reader import ShardReader
from storage.summary import summarise_dataset
from tests.extract.test_mocap_ingest import _bandai_subset, _fingerprint


def test_flow_ingests_every_shard_then_skips_them(
    prefect_server, bandai_dir: Path, tmp_path: Path
) -> None:
    config = MocapIngestConfig(str(bandai_dir), str(tmp_path / "ds"), shard_size=40)
    first = ingest_mocap_flow(config)
    assert first["clips"] == 174 and first["frames"] == 31914 and first["shards_written"] == 5
    report = summarise_dataset(ShardReader(tmp_path / "ds"))
    assert (report.clips, len(report.styles), report.failures) == (174, 15, 0)
    again = ingest_mocap_flow(config)
    assert again["shards_written"] == 0 and again["shards_skipped"] == 5 and again["clips"] == 0


def test_the_command_line_and_the_flow_give_identical_shards(
    prefect_server, bandai_dir: Path, tmp_path: Path
) -> None:
    """One driver (`plan_mocap_ingest` / `run_mocap_shard` / `finish_mocap_ingest`), two entry
    points: the same shard ids, the same markers' counts and sizes, the same clips."""
    source = tmp_path / "src"
    _bandai_subset(bandai_dir, source, ("walk", "bow", "guide"))
    roots = {"cli": tmp_path / "cli", "flow": tmp_path / "flow"}
    split = {"test_contents": ("guide",), "val_fraction": 0.2}
    ingest_mocap(MocapIngestConfig(str(source), str(roots["cli"]), shard_size=16, **split))
    ingest_mocap_flow(MocapIngestConfig(str(source), str(roots["flow"]), shard_size=16, **split))
    stats = {name: ShardReader(root).stats() for name, root in roots.items()}
    assert [s.shard_id for s in stats["cli"]] == [s.shard_id for s in stats["flow"]]
    for cli, flow in zip(stats["cli"], stats["flow"], strict=True):
        assert (cli.rows, cli.table_bytes, cli.inputs) == (flow.rows, flow.table_bytes, flow.inputs)
        assert cli.settings_json.replace(str(roots["cli"]), "") == flow.settings_json.replace(
            str(roots["flow"]), ""
        )
    assert _fingerprint(roots["cli"]) == _fingerprint(roots["flow"])
