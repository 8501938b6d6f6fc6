"""The split the tests (and the sample pipeline) ingest Bandai Namco with: contents guide and
byebye plus walk take 002 held out as test, a 10 % val share of the rest by clip-id hash."""

from __future__ import annotations

from typing import Any

BANDAI_SPLIT: dict[str, Any] = {
    "test_contents": ("guide", "byebye"),
    "test_content_takes": (("walk", "002"),),
    "val_fraction": 0.1,
}
