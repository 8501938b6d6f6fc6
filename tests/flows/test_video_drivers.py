"""One driver per video stage: the command line and `crawl-and-extract` give identical shards.

Crawl, pose and clips each plan, run a shard and finish in the library (`plan_crawl_job` /
`run_crawl_shard`, `plan_pose_extraction` / `run_pose_shard`, `plan_clip_derivation` /
`run_clip_shard` / `finish_clip_derivation`); `stylemotion ingest-videos` loops over them in
its process, the flow maps them over the pending shards as tasks. One short real video run
through both into two roots must give the same shard ids, marker row counts and clips.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flows.cli import main
from flows.crawl_flows import crawl_and_extract_flow
from storage.shard_reader import ShardReader
from tests.flows.test_crawl_flow import video_config


def test_the_command_line_and_the_flow_give_identical_video_shards(
    prefect_server, shared_data: Path, pose_model: Path, tmp_path: Path
) -> None:
    video = shared_data / "video/footskate_reducer/dance.mp4"
    roots = {"cli": tmp_path / "cli", "flow": tmp_path / "flow"}
    command = ["ingest-videos", str(video), "--style", "energetic", "--out", str(roots["cli"])]
    assert main([*command, "--videos-per-shard", "1", "--sleep", "0"]) == 0
    totals = crawl_and_extract_flow(video_config(roots["flow"], [video]))
    assert totals["shards_failed"] == 0 and totals["clips"] >= 1
    readers = {name: ShardReader(root) for name, root in roots.items()}
    for table in ("videos", "poses", "clips"):
        assert readers["cli"].shard_ids(table) == readers["flow"].shard_ids(table), table
    assert readers["cli"].shard_ids("poses") and readers["cli"].shard_ids("clips")
    stats = {name: reader.stats() for name, reader in readers.items()}
    assert [s.shard_id for s in stats["cli"]] == [s.shard_id for s in stats["flow"]]
    for cli, flow in zip(stats["cli"], stats["flow"], strict=True):
        assert (cli.rows, cli.num_frames, cli.inputs) == (flow.rows, flow.num_frames, flow.inputs)
    clips = {name: {c.clip_id: c for c in reader.iter_clips()} for name, reader in readers.items()}
    assert clips["cli"] and list(clips["cli"]) == list(clips["flow"])
    for clip_id, cli in clips["cli"].items():
        flow = clips["flow"][clip_id]
        assert (cli.video_id, cli.style, cli.fps, cli.start_time_s) == (
            flow.video_id,
            flow.style,
            flow.fps,
            flow.start_time_s,
        )
        for field in ("positions", "confidence", "root_trajectory"):
            np.testing.assert_array_equal(getattr(cli, field), getattr(flow, field), err_msg=field)
