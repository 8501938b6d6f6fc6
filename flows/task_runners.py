"""Which task runner the flows use: a setting, not code (threads, processes or Dask).

`STYLEMOTION_TASK_RUNNER` picks it when the flow modules are imported (so a worker's
environment decides for deployed runs too):

- `threads` (default): Prefect's thread pool; shard tasks of the I/O-bound stages overlap, and
  pose extraction, which needs whole cores, is handed to a pool of spawned processes
  (`flows.pose_processes`), because a second thread gives MediaPipe no speed-up.
- `processes`: Prefect's process pool; every task runs in a worker process.
- `dask`: a Dask `LocalCluster` of worker processes on this machine (prefect-dask).
- `dask://HOST:PORT` or `tcp://HOST:PORT`: an existing Dask scheduler (production scale-out).

`STYLEMOTION_TASK_WORKERS` sets the threads, processes or local Dask workers (default: the
cores). A flow can also be given a runner directly with `flow.with_options(task_runner=...)`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from storage.errors import UserInputError

RUNNER_ENV = "STYLEMOTION_TASK_RUNNER"
WORKERS_ENV = "STYLEMOTION_TASK_WORKERS"


class TaskRunnerSettingError(UserInputError, ValueError):
    """The task runner setting names no known runner."""


@dataclass(frozen=True)
class TaskRunnerSetting:
    """The parsed setting: the kind (`threads`, `processes`, `dask`) and its details."""

    kind: str = "threads"
    workers: int | None = None
    dask_address: str | None = None  # an existing scheduler; None: a LocalCluster


def parse_task_runner_setting(text: str | None, workers: str | None = None) -> TaskRunnerSetting:
    """`threads`, `processes`, `dask`, `dask://host:port` or `tcp://host:port`."""
    value = (text or "threads").strip()
    if workers and not workers.strip().isdigit():
        raise TaskRunnerSettingError(f"{WORKERS_ENV}={workers}: expected a whole number >= 1")
    count = int(workers) if workers else None
    if count is not None and count < 1:
        raise TaskRunnerSettingError(f"{WORKERS_ENV}={workers}: must be >= 1")
    if value in ("threads", "processes", "dask"):
        return TaskRunnerSetting(value, count)
    if value.startswith("dask://"):
        return TaskRunnerSetting("dask", count, "tcp://" + value.removeprefix("dask://"))
    if value.startswith("tcp://"):
        return TaskRunnerSetting("dask", count, value)
    raise TaskRunnerSettingError(
        f"{RUNNER_ENV}={value!r}: expected threads, processes, dask or dask://HOST:PORT"
    )


def build_task_runner(setting: TaskRunnerSetting) -> TaskRunner:
    """The Prefect task runner of a setting."""
    if setting.kind == "threads":
        return ThreadPoolTaskRunner(max_workers=setting.workers)
    if setting.kind == "processes":
        return ProcessPoolTaskRunner(max_workers=setting.workers)
    from prefect_dask import DaskTaskRunner

    if setting.dask_address:
        return DaskTaskRunner(address=setting.dask_address)
    cluster_kwargs = {"processes": True, "threads_per_worker": 1}
    if setting.workers:
        cluster_kwargs["n_workers"] = setting.workers
    return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs=cluster_kwargs)


def task_runner_from_environment() -> TaskRunner:
    """The runner `STYLEMOTION_TASK_RUNNER` / `STYLEMOTION_TASK_WORKERS` ask for."""
    setting = parse_task_runner_setting(os.environ.get(RUNNER_ENV), os.environ.get(WORKERS_ENV))
    return build_task_runner(setting)


def runs_tasks_in_threads(runner: TaskRunner | None) -> bool:
    """Whether tasks share the flow's process (so CPU-heavy work must leave it)."""
    return runner is None or isinstance(runner, ThreadPoolTaskRunner)
