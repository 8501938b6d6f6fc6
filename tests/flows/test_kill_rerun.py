"""Resumability of a flow run: SIGKILL mid-way, run again, no clip missing and none twice.

The flow runs in a child process against the session's Prefect server, one shard at a time
(`STYLEMOTION_TASK_WORKERS=1`), and is killed once a few shards have their done-markers. The
re-run (a new flow run: nothing comes from Prefect's cache) writes exactly the missing shards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from extract.mocap.ingest import MocapIngestConfig
from flows.mocap_flows import ingest_mocap_flow
from storage.shard_reader import ShardReader

SHARD_SIZE = 2  # 87 shards of the 174 Bandai files
SCRIPT = """
import sys
from extract.mocap.ingest import MocapIngestConfig
from flows.mocap_flows import ingest_mocap_flow
ingest_mocap_flow(MocapIngestConfig(sys.argv[1], sys.argv[2], shard_size={size}))
"""


def test_killed_flow_run_resumes_without_duplicates(
    prefect_server: str, bandai_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "dataset"
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "STYLEMOTION_TASK_WORKERS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(size=SHARD_SIZE), str(bandai_dir), str(root)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if len(ShardReader(root).shard_ids()) >= 5:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    assert process.wait() == -signal.SIGKILL, "the flow finished before it could be killed"
    done_before = len(ShardReader(root).shard_ids())
    assert 5 <= done_before < 87
    rerun = ingest_mocap_flow(MocapIngestConfig(str(bandai_dir), str(root), shard_size=SHARD_SIZE))
    assert rerun["shards_skipped"] == done_before and rerun["shards_written"] == 87 - done_before
    clip_ids = ShardReader(root).labels()["clip_id"].to_pylist()
    assert len(clip_ids) == len(set(clip_ids)) == 174
