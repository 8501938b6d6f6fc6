"""Bad and constructed video files for the ingest tests, each made from the real sample videos.

Every builder writes into a directory the caller owns (a pytest tmp path) with the ffmpeg
binary, so a test sees exactly what a crawl could hand the pipeline: a download cut short, a
text file with a video name, an audio-only file, a one-frame clip, a sliver of a real video,
a clip with nobody in it, and real footage from two sources joined with hard cuts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

FFMPEG = ("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y")


def run_ffmpeg(*arguments: str | Path) -> None:
    subprocess.run([*FFMPEG, *map(str, arguments)], check=True, capture_output=True)


def truncated_copy(source: Path, destination: Path, num_bytes: int) -> Path:
    """The first `num_bytes` of `source`: a download cut short."""
    with source.open("rb") as handle:
        destination.write_bytes(handle.read(num_bytes))
    return destination


def faststart_truncated(source: Path, directory: Path, fraction: float = 0.5) -> Path:
    """A stream-copy remux with the index first (as web servers serve mp4), then cut short:
    it probes fine and decoding fails midway."""
    remuxed = directory / f"{source.stem}_faststart.mp4"
    run_ffmpeg("-i", source, "-c", "copy", "-movflags", "+faststart", remuxed)
    size = remuxed.stat().st_size
    return truncated_copy(remuxed, directory / f"{source.stem}_cut.mp4", int(size * fraction))


def text_file(directory: Path) -> Path:
    path = directory / "x.mp4"
    path.write_text("this is a text file, not a video\n" * 20, encoding="utf-8")
    return path


def audio_only(directory: Path, suffix: str = ".m4a") -> Path:
    path = directory / f"sine{suffix}"
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac", path)
    return path


def one_frame(source: Path, directory: Path) -> Path:
    path = directory / "one_frame.mp4"
    run_ffmpeg("-i", source, "-frames:v", "1", "-c:v", "libx264", "-preset", "ultrafast", path)
    return path


def cropped(source: Path, directory: Path, width: int, height: int, name: str) -> Path:
    """A `width` x `height` crop of the top-left of the first second of `source`."""
    path = directory / f"{name}.mp4"
    crop = f"crop={width}:{height}:0:0"
    run_ffmpeg(
        "-i", source, "-t", "1", "-vf", crop, "-c:v", "libx264", "-preset", "ultrafast", path
    )
    return path


def scaled(source: Path, directory: Path, width: int, height: int, name: str) -> Path:
    path = directory / f"{name}.mp4"
    scale = f"scale={width}:{height}"
    run_ffmpeg(
        "-i", source, "-t", "1", "-vf", scale, "-c:v", "libx264", "-preset", "ultrafast", path
    )
    return path


def blank_clip(directory: Path, seconds: float = 1.0) -> Path:
    """A plain grey clip at 30 fps: no person anywhere."""
    path = directory / "blank.mp4"
    source = f"color=c=gray:s=320x240:r=30:d={seconds}"
    run_ffmpeg("-f", "lavfi", "-i", source, "-c:v", "libx264", "-preset", "ultrafast", path)
    return path


def joined_with_cuts(
    segments: list[tuple[Path, float, float]], directory: Path, fps: int = 30
) -> tuple[Path, list[int]]:
    """Real footage segments `(source, start_s, end_s)` joined with hard cuts at `fps`.

    Returns the file and the index of the first frame of every segment after the first
    (where the cuts are). Each segment is scaled to 640x360 so the concat filter can join them.
    """
    parts, labels, cuts, frames = [], [], [], 0
    for index, (_, start_s, end_s) in enumerate(segments):
        parts.append(
            f"[{index}:v]trim={start_s}:{end_s},setpts=PTS-STARTPTS,fps={fps},"
            f"scale=640:360,setsar=1[s{index}]"
        )
        labels.append(f"[s{index}]")
        if index:
            cuts.append(frames)
        frames += round((end_s - start_s) * fps)
    graph = ";".join(parts) + f";{''.join(labels)}concat=n={len(segments)}:v=1:a=0[joined]"
    inputs = [argument for source, _, _ in segments for argument in ("-i", source)]
    path = directory / "joined.mp4"
    run_ffmpeg(
        *inputs,
        "-filter_complex",
        graph,
        "-map",
        "[joined]",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "20",
        path,
    )
    return path, cuts
