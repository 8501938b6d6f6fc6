"""The pipeline's configuration on the sample data: what `make demo` and the tests run.

Both Bandai Namco mocap sets into one root, each with its own split rule written into the data
(dataset 1: contents `guide` and `byebye` and walk take 002 held out; dataset 2: the gestures
`wave-right-hand` and `raise-up-left-hand` held out, plus 15 % of the other takes), their style
names met through the default style vocabulary; the two sample videos as style `energetic`;
and a short encoder schedule. Paths are made absolute so a
deployment's worker and a training run started elsewhere find the same files.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from extract.crawl.config import CrawlConfig
from extract.mocap.ingest import MocapIngestConfig
from extract.video.ingest import VideoExtractConfig
from flows.crawl_params import CrawlExtractConfig
from flows.pipeline_params import PipelineConfig
from models.encoders.train_config import ModelSize, TrainEncodersConfig

SAMPLE_VIDEOS = ("video/gvhmr/tennis.mp4", "video/footskate_reducer/dance.mp4")
SAMPLE_STYLE = "energetic"
DATASET_2_HELD_OUT = ("wave-right-hand", "raise-up-left-hand")  # one wave, one raise gesture
TINY_MODEL = ModelSize(d_model=32, num_layers=1, num_heads=2, content_dim=16, style_dim=16)


def sample_training(root: str, run_dir: str, steps: int, tiny: bool = False) -> TrainEncodersConfig:
    """A short schedule: `steps` steps, logged every 10 (every step when tiny)."""
    config = TrainEncodersConfig(
        data_root=root,
        out=run_dir,
        steps=steps,
        warmup_steps=min(30, max(1, steps // 10)),
        checkpoint_every=max(1, min(100, steps)),
        coarse_refresh_every=max(1, min(100, steps)),
        log_every=1 if tiny else 10,
    )
    if tiny:
        return replace(config, model=TINY_MODEL, styles_per_batch=6, windows_per_style=4)
    return config


def sample_pipeline_config(
    data_dir: str | Path,
    out_dir: str | Path,
    steps: int = 300,
    with_videos: bool = True,
    tiny_model: bool = False,
) -> PipelineConfig:
    """The whole sample pipeline writing under `out_dir` (dataset/, runs/encoders, previews/)."""
    data, out = Path(data_dir).resolve(), Path(out_dir).resolve()
    root = str(out / "dataset")
    mocap = (
        MocapIngestConfig(
            src_dir=str(data / "motion" / "bandai_namco_1"),
            out_root=root,
            test_contents=("guide", "byebye"),
            test_content_takes=(("walk", "002"),),
            val_fraction=0.1,
        ),
        MocapIngestConfig(
            src_dir=str(data / "motion" / "bandai_namco_2"),
            out_root=root,
            test_contents=DATASET_2_HELD_OUT,
            test_fraction=0.15,
            val_fraction=0.1,
        ),
    )
    videos = CrawlExtractConfig(
        crawl=CrawlConfig(out_root=root, sleep_interval_s=0.0, max_sleep_interval_s=0.0),
        extract=VideoExtractConfig(root=root),
        inputs=tuple(str(data / relative) for relative in SAMPLE_VIDEOS),
        style=SAMPLE_STYLE,
        preview_dir=str(out / "previews"),
    )
    return PipelineConfig(
        root=root,
        mocap=mocap,
        videos=videos if with_videos else None,
        train=sample_training(root, str(out / "runs" / "encoders"), steps, tiny_model),
        preview_dir=str(out / "previews"),
    )
