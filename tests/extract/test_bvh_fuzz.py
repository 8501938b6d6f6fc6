"""Deterministic fuzzing of `extract.mocap.bvh_import.import_bvh` with mutations of a Bandai file.

Each case mutates the smallest Bandai take (truncation, byte flips, printable-character edits,
and edits of the `Frames:` / `Frame Time:` / OFFSET / CHANNELS numbers and of the channel values
to huge, zero, negative, NaN, infinite and odd values) and asserts that `import_bvh` returns a
valid 30 fps `MotionClip` or raises `MocapImportError` naming the file: any other exception fails
the case, and so does a case over `CASE_SECONDS` or over `CASE_PEAK_BYTES` of memory traced by
`tracemalloc` (numpy reports its buffers there). Seeds are fixed integers for `random.Random`,
so a failing case id (`family-index`) replays exactly. No dependency beyond the standard library.
"""

from __future__ import annotations

import random
import re
import string
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from extract.mocap.bvh_import import MAX_CLIP_FRAMES, MocapImportError, import_bvh
from storage.records import MotionClip
from storage.skeleton import NUM_JOINTS

pytestmark = pytest.mark.timeout(60)  # a hang fails one case instead of the whole run

SOURCE = "dataset-1_dash_normal_001.bvh"  # 20 frames, 22 joints: the smallest Bandai take
CASE_SECONDS = 5.0
CASE_PEAK_BYTES = 300 * 1024 * 1024
MAX_MESSAGE_CHARS = 2000

# Replacement numbers: huge, zero, negative, non-finite, tiny, and text float() or int() refuse.
ODD_NUMBERS = (
    "0", "-0", "-1", "1", "2", "7", "19", "21", "999999999", "9" * 40, "9" * 5000,
    "1e300", "-1e300", "1e-300", "1e-6", "3000", "100", "nan", "inf", "-inf",
    "0x10", "1_000", "\u00b2", "\u0662", "", "1 2",
)  # fmt: skip


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def _flip_bits(data: bytes, rng: random.Random) -> bytes:
    mutated = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        mutated[rng.randrange(len(mutated))] ^= 1 << rng.randrange(8)
    return bytes(mutated)


def _printable_edits(data: bytes, rng: random.Random) -> bytes:
    """Replace characters by printable ASCII (the file stays text, unlike most bit flips)."""
    mutated = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        mutated[rng.randrange(len(mutated))] = ord(rng.choice(string.printable))
    return bytes(mutated)


def _odd_number(rng: random.Random) -> str:
    random_float = f"{rng.uniform(-1, 1) * 10 ** rng.randint(0, 300):g}"
    return rng.choice(ODD_NUMBERS + (str(rng.randint(-50, 50)), random_float))


def _replace_number(data: bytes, pattern: str, rng: random.Random) -> bytes:
    """Replace one randomly chosen group of one randomly chosen `pattern` match."""
    text = data.decode("utf-8")
    match = rng.choice(list(re.finditer(pattern, text)))
    group = rng.randint(1, match.re.groups)
    value = _odd_number(rng)
    return (text[: match.start(group)] + value + text[match.end(group) :]).encode("utf-8")


def _header(data: bytes, rng: random.Random) -> bytes:
    """`Frames:` or `Frame Time:` to an odd number, or the frame time to 0.1 ms .. 10 s."""
    if rng.random() < 0.3:
        text = data.decode("utf-8")
        frame_time = f"{10 ** rng.uniform(-4, 1):.6g}"
        return re.sub(r"Frame Time:\s*\S+", f"Frame Time: {frame_time}", text).encode("utf-8")
    pattern = rng.choice([r"Frames:\s*(\S+)", r"Frame Time:\s*(\S+)"])
    return _replace_number(data, pattern, rng)


def _offsets(data: bytes, rng: random.Random) -> bytes:
    return _replace_number(data, r"OFFSET\s+(\S+)\s+(\S+)\s+(\S+)", rng)


def _channels(data: bytes, rng: random.Random) -> bytes:
    return _replace_number(data, r"CHANNELS\s+(\S+)", rng)


def _motion_values(data: bytes, rng: random.Random) -> bytes:
    """Replace one to three channel values of the MOTION data by odd numbers."""
    text = data.decode("utf-8")
    start = text.index("\n", text.index("Frame Time:"))
    tokens = list(re.finditer(r"\S+", text[start:]))
    for match in sorted(rng.sample(tokens, rng.randint(1, 3)), key=lambda m: -m.start()):
        begin, end = start + match.start(), start + match.end()
        text = text[:begin] + _odd_number(rng) + text[end:]
    return text.encode("utf-8")


Mutation = Callable[[bytes, random.Random], bytes]

# family: (mutation, first seed, number of cases); 150 cases in all
FAMILIES: dict[str, tuple[Mutation, int, int]] = {
    "truncate": (_truncate, 1_000, 25),
    "flip-bits": (_flip_bits, 2_000, 20),
    "printable": (_printable_edits, 3_000, 20),
    "header": (_header, 4_000, 25),
    "offset": (_offsets, 5_000, 20),
    "channels": (_channels, 6_000, 15),
    "values": (_motion_values, 7_000, 25),
}
CASES = [(family, index) for family, (_, _, count) in FAMILIES.items() for index in range(count)]


@pytest.fixture(scope="module")
def source_bytes(bandai_dir: Path) -> bytes:
    return (bandai_dir / SOURCE).read_bytes()


def _import_traced(path: Path) -> tuple[MotionClip | MocapImportError, float, int]:
    """The clip or the import error, the seconds taken and the traced peak memory growth."""
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    tracemalloc.reset_peak()
    baseline = tracemalloc.get_traced_memory()[0]
    start = time.monotonic()
    try:
        outcome: MotionClip | MocapImportError = import_bvh(
            path, dataset="fuzz", source_key=path.name
        )
    except MocapImportError as error:
        outcome = error
    finally:
        seconds = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1] - baseline
        if started_here:
            tracemalloc.stop()
    return outcome, seconds, peak


def _check_clip(clip: MotionClip) -> None:
    assert isinstance(clip, MotionClip)
    assert clip.fps == 30.0
    assert 2 <= clip.num_frames <= MAX_CLIP_FRAMES
    assert clip.positions.shape == (clip.num_frames, NUM_JOINTS, 3)
    assert np.isfinite(clip.positions).all()
    assert np.isfinite(clip.root_trajectory).all()


def test_the_unmutated_source_imports(source_bytes: bytes, tmp_path: Path) -> None:
    path = tmp_path / SOURCE
    path.write_bytes(source_bytes)
    clip, _, _ = _import_traced(path)
    _check_clip(clip)
    assert clip.num_frames == 20


@pytest.mark.parametrize(("family", "index"), CASES, ids=[f"{f}-{i}" for f, i in CASES])
def test_mutated_file_gives_a_clip_or_an_import_error(
    source_bytes: bytes, tmp_path: Path, family: str, index: int
) -> None:
    mutate, first_seed, _ = FAMILIES[family]
    path = tmp_path / f"{family}-{index}.bvh"
    path.write_bytes(mutate(source_bytes, random.Random(first_seed + index)))
    outcome, seconds, peak = _import_traced(path)
    if isinstance(outcome, MocapImportError):
        message = str(outcome)
        assert path.name in message
        assert len(message) <= MAX_MESSAGE_CHARS, message[:300]
    else:
        _check_clip(outcome)
    assert seconds < CASE_SECONDS
    assert peak < CASE_PEAK_BYTES
