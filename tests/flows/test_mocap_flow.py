"""The `ingest-mocap` Prefect flow on the real Bandai set under the session's Prefect server."""

from __future__ import annotations

from pathlib import Path

from extract.mocap.ingest import MocapIngestConfig
from flows.mocap_flows import ingest_mocap_flow
from storage.shard_reader import ShardReader
from storage.summary import summarise_dataset


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
