"""The real thing on loopback: server -> process work pool -> `prefect deploy` -> worker -> run.

Starts `prefect server start` on a free port with its own PREFECT_HOME, creates the
`stylemotion-cpu` process pool, deploys `pipeline/sample` and `train-encoders/sample-cpu` from
the repository's prefect.yaml, starts a worker and runs the pipeline deployment with a small
config. Its training step finds the training deployment and a worker, so it goes through
`run_deployment` (a second flow run the same worker picks up). The test waits for `Completed`,
checks the shards and the training run, and stops the worker (SIGINT) and the server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, replace
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.sample_config import sample_pipeline_config
from storage.shard_reader import ShardReader

REPO_ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert server.poll() is None, "prefect server exited during start-up"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} not healthy after {timeout_s} s")


def _stop(process: subprocess.Popen, first_signal: int) -> None:
    """Signal the process group, wait, and kill it if it does not stop."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, first_signal)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _prefect(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(
        [PREFECT, *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_pipeline_deployment_on_a_real_server(shared_data: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "STYLEMOTION_HOME": str(REPO_ROOT),
        "STYLEMOTION_DATA": str(shared_data),
    }
    config = sample_pipeline_config(
        shared_data, tmp_path / "out", steps=3, with_videos=False, tiny_model=True
    )
    config = replace(config, preview_dir=None)
    logs = (tmp_path / "server.log").open("w"), (tmp_path / "worker.log").open("w")
    server = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", url.split(":")[2][:-4]],
        env=env,
        stdout=logs[0],
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = None
    try:
        _wait_healthy(url, server)
        _prefect(["work-pool", "create", "stylemotion-cpu", "--type", "process"], env)
        names = ["--name", "sample", "--name", "sample-cpu"]  # unique in prefect.yaml
        _prefect(["--no-prompt", "deploy", *names], env)
        deployed = _prefect(["deployment", "inspect", "pipeline/sample"], env)
        assert f"{shared_data}/motion/bandai_namco_1" in deployed  # {{ $STYLEMOTION_DATA }}
        worker = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", "stylemotion-cpu"],
            env=env,
            cwd=tmp_path,
            stdout=logs[1],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        parameters = json.dumps({"config": asdict(config)})
        run = ["deployment", "run", "pipeline/sample", "--params", parameters, "--watch"]
        run += ["--watch-interval", "1"]
        output = _prefect([*run, "--watch-timeout", "300"], env, timeout=330)
        assert "Completed" in output, output
        training = _training_runs(url)  # the pipeline trained through the deployment
        assert len(training) == 1 and training[0].deployment_id is not None
        assert training[0].state.is_completed()
        assert "models" in _log_sources(url)  # library loggers reach a worker run's logs
    finally:
        if worker is not None:
            _stop(worker, signal.SIGINT)  # a worker ignores SIGTERM for a long time
        _stop(server, signal.SIGINT)
        for log in logs:
            log.close()
    assert worker.returncode is not None and server.returncode is not None
    reader = ShardReader(config.root)
    assert len(reader.shard_ids()) == 6 + 21 and reader.labels().num_rows == 174 + 671
    assert (Path(config.train.out) / "last.pt").is_file()
    assert (Path(config.train.out) / "eval" / "report_test.json").is_file()


def _training_runs(url: str) -> list:
    with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        names = FlowFilter(name=FlowFilterName(any_=["train-encoders"]))
        return client.read_flow_runs(flow_filter=names)


def _log_sources(url: str) -> set[str]:
    with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        names: set[str] = set()
        for offset in range(0, 20_000, 200):
            logs = client.read_logs(limit=200, offset=offset)
            names.update(log.name.split(".")[0] for log in logs)
            if len(logs) < 200:
                return names
    return names
