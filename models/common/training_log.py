"""What a training loop shows and keeps: its progress bar and its metrics.jsonl lines.

Owns `progress_bar` (a tqdm bar with loss and throughput, or None when not shown) and
`append_metrics` (one JSON line per logged step: step, windows/s and the rounded losses, also
sent to the module logger), shared by the diffusion and VAE training loops.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path


def progress_bar(total: int, show: bool, description: str):
    """A tqdm bar of `total` steps, or None when `show` is False."""
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="step")


def append_metrics(
    run_dir: Path,
    step: int,
    values: dict[str, float],
    rate: float,
    logger: logging.Logger,
    digits: int = 5,
) -> None:
    """Append `{"step", "windows_per_s", **values}` to `run_dir/metrics.jsonl`."""
    line = {"step": step, "windows_per_s": round(rate, 1)} | {
        key: round(value, digits) for key, value in values.items()
    }
    with (Path(run_dir) / "metrics.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
    logger.info("step %d %s", step, line)
