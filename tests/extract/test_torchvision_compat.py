"""The torchvision import fix: needed on this CPU torch, and enough for open_clip to import."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import torch
from extract.scene_labels.torchvision_compat import (
    ensure_torchvision_importable, torchvision_ops_registered
)
before = torchvision_ops_registered()
applied = ensure_torchvision_importable()
import torchvision, open_clip
print(before, applied, ensure_torchvision_importable(), torchvision.__version__)
"""


def test_fix_applies_only_when_needed_and_open_clip_imports() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=True, timeout=300
    )
    before, applied, second, version = result.stdout.split()
    assert version.startswith("0.28")
    assert applied == str(before != "True")  # applied exactly when ops were missing
    assert second == "False"  # idempotent: a second call does nothing
