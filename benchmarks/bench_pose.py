"""Pose extraction throughput (frames/s) against a bare MediaPipe loop, and process scaling.

Usage: python benchmarks/bench_pose.py [VIDEO ...] [--repeats 3] [--jobs 4] [--num-poses 1]
VIDEOs default to gvhmr/tennis.mp4 and opencv_doc/vtest.avi under $STYLEMOTION_DATA/video; the
model comes from $STYLEMOTION_POSE_MODEL (default: $STYLEMOTION_DATA/../models/...). The
baseline is the unavoidable work: cv2.VideoCapture decode, BGR->RGB, PoseLandmarker
detect_for_video, nothing else. The stage adds probing, ffmpeg normalisation through a pipe,
shot detection, landmark conversion, tracking and PoseTrack records. Both run in the same
process one after the other, best of `repeats`. Scaling runs `jobs` extractions of each video
on a process pool of 1 and then 2 workers (spawned, like a Prefect process pool) and reports
aggregate frames/s and each worker's peak resident memory (getrusage of the worker itself;
its ffmpeg decoder is a separate process, about 60-90 MiB measured with /usr/bin/time -v, and
RUSAGE_CHILDREN would report the forked worker's size instead).
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import mediapipe as mp

from extract.video.pose import PoseConfig, create_pose_landmarker, run_pose_extraction
from extract.video.pose_model import POSE_MODEL_ENV, resolve_pose_model


def bare_mediapipe(video: Path, config: PoseConfig) -> int:
    model_path = resolve_pose_model(config.model_path)
    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    frames = 0
    with create_pose_landmarker(model_path, config) as landmarker:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
            landmarker.detect_for_video(image, int(frames * 1000 // fps))
            frames += 1
    capture.release()
    return frames


def stylemotion_pose(video: Path, config: PoseConfig) -> int:
    return run_pose_extraction(video, video.stem, config).num_frames


def best_of(repeats: int, work: Callable[[], int]) -> tuple[float, int]:
    timings, frames = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        frames = work()
        timings.append(time.perf_counter() - start)
    return min(timings), frames


def worker_job(job: tuple[Path, PoseConfig]) -> tuple[int, int, float]:
    """(pid, frames, the worker's peak RSS in MiB so far)."""
    video, config = job
    frames = stylemotion_pose(video, config)
    return os.getpid(), frames, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_scaling(video: Path, config: PoseConfig, jobs: int, workers: int) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        pool.map(worker_job, [(video, config)] * workers)  # warm-up: imports, model load
        start = time.perf_counter()
        results = pool.map(worker_job, [(video, config)] * jobs)
        seconds = time.perf_counter() - start
    frames = sum(result[1] for result in results)
    peaks = {pid: peak for pid, _, peak in results}
    memory = ", ".join(f"{peak:.0f} MiB" for peak in peaks.values())
    print(
        f"  {workers} worker(s), {jobs} jobs: {frames} frames {seconds:6.2f} s "
        f"{frames / seconds:7.1f} frames/s; peak RSS per worker: {memory}"
    )


def main() -> None:
    data = Path(os.environ.get("STYLEMOTION_DATA", "../shared/data"))
    defaults = [data / "video/gvhmr/tennis.mp4", data / "video/opencv_doc/vtest.avi"]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("videos", nargs="*", type=Path, default=defaults)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--num-poses", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault(POSE_MODEL_ENV, str(data.parent / "models/pose_landmarker_full.task"))
    config = PoseConfig(num_poses=args.num_poses, max_people_tracks=args.num_poses)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"num_poses={args.num_poses}, best of {args.repeats}")
    for video in args.videos:
        print(f"{video}:")
        rates = {}
        for name, work in (
            ("bare: cv2 decode + detect_for_video", bare_mediapipe),
            ("stylemotion extract_video_poses", stylemotion_pose),
        ):
            seconds, frames = best_of(args.repeats, functools.partial(work, video, config))
            rates[name] = frames / seconds
            print(f"  {name:<38} {frames:>5} frames {seconds:6.2f} s {frames / seconds:7.1f} f/s")
        bare_rate, our_rate = rates.values()
        print(f"  ratio ours/bare: {our_rate / bare_rate:.2f}")
        for workers in (1, 2):
            measure_scaling(video, config, args.jobs, workers)


if __name__ == "__main__":
    main()
