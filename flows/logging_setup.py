"""Forward the library loggers (`storage`, `extract`, `models`) to Prefect run logs.

Library code logs with `logging.getLogger(__name__)` and never imports Prefect; Prefect only
captures loggers named in PREFECT_LOGGING_EXTRA_LOGGERS, read when Prefect configures logging.
`flows/__init__.py` calls this before any flow module imports Prefect.
"""

from __future__ import annotations

import os

LIBRARY_LOGGERS = ("storage", "extract", "models")


def forward_library_loggers() -> None:
    named = [n for n in os.environ.get("PREFECT_LOGGING_EXTRA_LOGGERS", "").split(",") if n]
    merged = list(dict.fromkeys([*named, *LIBRARY_LOGGERS]))
    os.environ["PREFECT_LOGGING_EXTRA_LOGGERS"] = ",".join(merged)
    # The same loggers also run outside flows (CLI, tests): no API-handler warning there.
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
