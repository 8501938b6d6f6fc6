"""Real artefacts of a main job, made small for the report tests.

A dataset root ingested from real Bandai Namco BVH files (plus one broken file, so a failure
reason shows); a stylize output written the way `flows.jobs.stylize` writes one (stylized clips
built by its own `stylized_clip`, a shard, BVH files and side-by-side previews rendered by the
project's renderer), here with a real other-style clip standing in for the model's output (no
model is trained); an evaluate output holding a real `stylemotion evaluate` report
(`docs/stylization_eval.json`) and its sweep plot drawn by the evaluation's own plotter; and
encoder / diffusion run folders with `run.json` configs of the real config dataclasses, a
checkpoint file and the encoder's style-PCA plot drawn by its own plotter.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
EVALUATE_REPORT = REPO_ROOT / "docs" / "stylization_eval.json"
BVH_FILES = ("dataset-1_walk_normal_001", "dataset-1_walk_angry_001", "dataset-1_run_normal_001")
PREVIEW_FRAMES = 24
PREVIEW_SIZE = (480, 270)
CHECKPOINT_BYTES = b"stylemotion test checkpoint\n"
JOB_RUNS = ("dataset", "runs/encoders", "runs/diffusion", "stylized", "evaluate")


def ingest_dataset(bandai_dir: Path, work: Path) -> Path:
    """A dataset root of three real Bandai clips and one failure (a truncated BVH file)."""
    from extract.mocap.ingest import MocapIngestConfig, ingest_mocap

    source = work / "bandai"
    source.mkdir(parents=True)
    shutil.copytree(bandai_dir / "_meta", source / "_meta")
    for stem in BVH_FILES:
        for suffix in (".bvh", ".json"):
            shutil.copy(bandai_dir / f"{stem}{suffix}", source / f"{stem}{suffix}")
    text = (bandai_dir / "dataset-1_bow_sad_001.bvh").read_text(encoding="utf-8")
    (source / "dataset-1_bow_sad_001.bvh").write_text(text[: len(text) // 3], encoding="utf-8")
    shutil.copy(bandai_dir / "dataset-1_bow_sad_001.json", source / "dataset-1_bow_sad_001.json")
    root = work / "dataset"
    ingest_mocap(MocapIngestConfig(str(source), str(root)))
    return root


def _short(clip, frames: int = PREVIEW_FRAMES):
    return replace(
        clip,
        positions=clip.positions[:frames],
        confidence=clip.confidence[:frames],
        root_trajectory=clip.root_trajectory[:frames],
    )


def write_stylize_output(
    dataset: Path, out: Path, run: Path, style: str = "angry", strength: float = 1.5
) -> list[str]:
    """A stylize output as `flows.jobs.stylize` writes it: normal clips "stylized" into `style`
    (a real clip of that style stands in for the model); returns the stylized clip ids."""
    from extract.rendering.render import SkeletonPanel, render_skeleton_video
    from flows.jobs.stylize import StylizeJobConfig, stylized_clip
    from storage.bvh_export import write_clip_bvh
    from storage.filesystem import open_location
    from storage.records import FailureRecord
    from storage.shard_reader import ShardReader
    from storage.shard_writer import ShardPlan, write_shard

    clips = [_short(clip) for clip in ShardReader(str(dataset)).iter_clips()]
    sources = [clip for clip in clips if clip.style == "normal"]
    target = next(clip for clip in clips if clip.style != "normal")
    config = StylizeJobConfig(
        run=str(run), sources=(str(dataset),), style=(style,), out=str(out), strength=strength
    )
    stylized = [stylized_clip(source, target.positions, config, style) for source in sources]
    failure = FailureRecord(
        source_uri="bvh:broken",
        dataset="stylized",
        stage="stylize",
        error_kind="StylizeError",
        message="source clip broken: too short",
    )
    ids = tuple(sorted(clip.clip_id for clip in sources))
    plan = ShardPlan("stylized-test", ids)
    write_shard(open_location(str(out / "dataset")), plan, stylized, [failure])
    for source, clip in zip(sources, stylized, strict=True):
        (out / "bvh").mkdir(parents=True, exist_ok=True)
        write_clip_bvh(clip, out / "bvh" / f"{clip.clip_id}.bvh")
        panels = [SkeletonPanel(source.positions, "source"), SkeletonPanel(clip.positions, style)]
        path = out / "previews" / f"{clip.clip_id}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        render_skeleton_video(panels, clip.fps, path, size=PREVIEW_SIZE)
    return [clip.clip_id for clip in stylized]


def write_evaluate_output(out: Path, with_plot: bool = True) -> Path:
    """A real evaluate report (`--out report.json`) and its sweep plot (`--plot sweep.png`)."""
    from models.evaluation.stylization_eval import sweep_points
    from models.evaluation.sweep_plot import plot_strength_sweep

    out.mkdir(parents=True, exist_ok=True)
    report = out / "report.json"
    shutil.copy(EVALUATE_REPORT, report)
    if with_plot:
        plot_strength_sweep(sweep_points(json.loads(report.read_text())), out / "sweep.png")
    return report


def write_encoder_run(run: Path, data_root: Path) -> Path:
    """An encoder run folder: run.json (TrainEncodersConfig), last.pt, eval report + PCA plot."""
    from models.encoders.embedding_plot import plot_style_embeddings
    from models.encoders.train_config import TrainEncodersConfig

    (run / "eval").mkdir(parents=True)
    config = TrainEncodersConfig(data_root=str(data_root), out=str(run))
    description = {"train_clips": 3, "config": asdict(config)}
    (run / "run.json").write_text(json.dumps(description, default=str))
    (run / "last.pt").write_bytes(CHECKPOINT_BYTES)
    (run / "metrics.jsonl").write_text('{"step": 10, "total": 3.5}\n{"step": 20, "total": 2.25}\n')
    report = {"run": str(run), "split": "test", "style_knn_top1": 0.61, "query_clips": 12}
    (run / "eval" / "report_test.json").write_text(json.dumps(report))
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    embeddings = rng.normal(size=(60, 8)) + labels[:, None]
    names = ["angry", "happy", "normal"]
    plot_style_embeddings(embeddings, labels, names, run / "eval" / "style_pca_test.png")
    return run


def write_diffusion_run(run: Path, data_root: Path, encoder_run: Path) -> Path:
    """A diffusion (base stage) run folder: run.json (TrainDiffusionConfig) and last.pt."""
    from models.diffusion.train import TrainDiffusionConfig

    run.mkdir(parents=True)
    config = TrainDiffusionConfig(str(data_root), str(encoder_run), str(run))
    (run / "run.json").write_text(json.dumps({"config": asdict(config)}, default=str))
    (run / "last.pt").write_bytes(CHECKPOINT_BYTES * 2)
    return run
