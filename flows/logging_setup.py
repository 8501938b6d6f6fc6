"""Forward the library loggers (`storage`, `extract`, `models`, `flows`) to Prefect run logs.

Library code logs with `logging.getLogger(__name__)` and never imports Prefect; Prefect only
captures loggers named in PREFECT_LOGGING_EXTRA_LOGGERS, read when Prefect configures logging.
`flows/__init__.py` calls this before any flow module imports Prefect.

When Prefect was imported before this package (a worker's flow-run process loads the flow
file after starting Prefect; a test harness), its settings no longer read the variable, so the
library loggers get Prefect's API log handler directly, as Prefect would have given them.
Levels stay as they are: what a library logger lets through (WARNING and up unless raised)
reaches the run log. Prefect's per-task "timeout in a worker thread" warning is shown once.
"""

from __future__ import annotations

import logging
import os
import sys

LIBRARY_LOGGERS = ("storage", "extract", "models", "flows")
# Prefect warns on every task with a timeout that runs in a worker thread (the thread-pool
# runner's normal case); the user can do nothing about it, so it is shown once per process.
THREAD_TIMEOUT_WARNING = "configured for this task, but the task is running in a worker thread"


class ShowOnce(logging.Filter):
    """Lets the first record whose message contains `fragment` through, and no later one."""

    def __init__(self, fragment: str) -> None:
        super().__init__()
        self.fragment, self.seen = fragment, False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.fragment not in str(record.msg):
            return True
        if self.seen:
            return False
        self.seen = True
        record.msg = f"{record.msg} (shown once per process)"
        return True


class TaskRunChatter(logging.Filter):
    """For a console handler: drops Prefect's per-task INFO lines ("Finished in state
    Completed()", one per shard or run); flow summaries, warnings and errors pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.name.startswith("prefect.task_runs") and record.levelno < logging.WARNING
        )


def forward_library_loggers() -> None:
    named = [n for n in os.environ.get("PREFECT_LOGGING_EXTRA_LOGGERS", "").split(",") if n]
    merged = list(dict.fromkeys([*named, *LIBRARY_LOGGERS]))
    os.environ["PREFECT_LOGGING_EXTRA_LOGGERS"] = ",".join(merged)
    # The same loggers also run outside flows (CLI, tests): no API-handler warning there.
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    task_runs = logging.getLogger("prefect.task_runs")
    if not any(isinstance(f, ShowOnce) for f in task_runs.filters):
        task_runs.addFilter(ShowOnce(THREAD_TIMEOUT_WARNING))
    _attach_to_configured_prefect()


def _attach_to_configured_prefect() -> None:
    """If Prefect was imported first (its settings lack our loggers), add its API handler."""
    if "prefect" not in sys.modules:
        return  # Prefect will read PREFECT_LOGGING_EXTRA_LOGGERS when it configures logging
    from prefect.logging.handlers import APILogHandler
    from prefect.settings import PREFECT_LOGGING_EXTRA_LOGGERS

    if set(LIBRARY_LOGGERS) <= set(PREFECT_LOGGING_EXTRA_LOGGERS.value()):
        return  # Prefect attaches its handlers to them itself
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(handler, APILogHandler) for handler in logger.handlers):
            logger.addHandler(APILogHandler())
