"""The command-line refusal contract, shared by the tests: one line, exit 2, no traceback."""

from __future__ import annotations

import pytest

from flows.cli import main


def assert_refused(capsys: pytest.CaptureFixture, argv: list[str], *needles: str) -> str:
    """Run `stylemotion argv`; assert exit 2 and one `stylemotion CMD: error:` line naming
    every needle; return stderr."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"stylemotion {argv[0]}: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err
