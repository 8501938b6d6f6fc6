"""Pose extraction in worker processes when the flow's tasks run in threads.

MediaPipe gains nothing from a second thread in one process (ENVIRONMENT.md: measured), so
under the thread-pool task runner each pose-shard task hands its shard to a pool of spawned
processes shared by the flow run and waits for the small stats it returns. Under the process
pool or Dask runners the task already runs in a worker process and calls the function itself.
`spawn`: MediaPipe and ffmpeg pipes do not survive `fork` well; each worker starts clean.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_size = 0


def run_in_pose_process(workers: int, function: Callable[..., Any], *arguments: Any) -> Any:
    """Run `function(*arguments)` in the shared process pool (created with `workers` processes)."""
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != workers:
            if _pool is not None:
                _pool.shutdown(wait=True)
            _pool = ProcessPoolExecutor(max(1, workers), mp_context=get_context("spawn"))
            _pool_size = workers
        pool = _pool
    return pool.submit(function, *arguments).result()


def shutdown_pose_processes() -> None:
    """Stop the pool's processes (the end of a flow run); the next shard starts a new pool."""
    global _pool, _pool_size
    with _lock:
        pool, _pool, _pool_size = _pool, None, 0
    if pool is not None:
        pool.shutdown(wait=True)
