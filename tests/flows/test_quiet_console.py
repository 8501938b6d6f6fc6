"""A quiet console: Prefect's per-task worker-thread timeout warning is shown once, not per task."""

from __future__ import annotations

import logging

import pytest
from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

import flows  # noqa: F401 - installs the logging set-up
from flows.logging_setup import THREAD_TIMEOUT_WARNING


@task(timeout_seconds=60)
def _square(value: int) -> int:
    return value * value


@flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
def _many_tasks() -> list[int]:
    return [future.result() for future in _square.map(range(6))]


def test_the_thread_timeout_warning_is_shown_once(
    prefect_server, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert _many_tasks() == [0, 1, 4, 9, 16, 25]
        assert _many_tasks() == [0, 1, 4, 9, 16, 25]
    shown = [r for r in caplog.records if THREAD_TIMEOUT_WARNING in r.getMessage()]
    assert len(shown) <= 1, [r.getMessage() for r in shown]
    caplog.clear()  # the control: without the filter Prefect says it for every task
    task_runs = logging.getLogger("prefect.task_runs")
    saved = list(task_runs.filters)
    for installed in saved:
        task_runs.removeFilter(installed)
    try:
        with caplog.at_level(logging.WARNING):
            _many_tasks()
    finally:
        for installed in saved:
            task_runs.addFilter(installed)
    unfiltered = [r for r in caplog.records if THREAD_TIMEOUT_WARNING in r.getMessage()]
    assert len(unfiltered) == 6


def test_the_console_drops_per_task_chatter_and_keeps_summaries() -> None:
    from flows.logging_setup import TaskRunChatter

    def record(name: str, level: int, message: str) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, message, None, None)

    chatter = TaskRunChatter()
    assert not chatter.filter(record("prefect.task_runs", logging.INFO, "Finished in state"))
    assert chatter.filter(record("prefect.task_runs", logging.WARNING, "retrying"))
    assert chatter.filter(record("prefect.flow_runs", logging.INFO, "ingest-mocap: {...}"))
    assert chatter.filter(record("models.encoders.windows", logging.INFO, "windows"))
