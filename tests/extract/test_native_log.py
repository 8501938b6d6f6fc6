"""Native writes to descriptor 2 go to the log file inside the block, to the console after it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import os, sys
from pathlib import Path
from extract.video.native_log import native_stderr_to_file
with native_stderr_to_file(Path(sys.argv[1])):
    os.write(2, b"W0000 native note\\n")
os.write(2, b"after the block\\n")
"""


def test_descriptor_two_is_redirected_then_restored(tmp_path: Path) -> None:
    log = tmp_path / "native.log"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(log)],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.stderr == "after the block\n"
    assert log.read_text() == "W0000 native note\n"
