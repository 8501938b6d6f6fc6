"""The pipeline's configuration on the sample data: what `make demo` and the tests run.

Both Bandai Namco mocap sets into one root, each with its own split rule written into the data
(dataset 1: contents `guide` and `byebye` and walk take 002 held out; dataset 2: the gestures
`wave-right-hand` and `raise-up-left-hand` held out, plus 15 % of the other takes), their style
names met through the default style vocabulary; the tennis video as style `energetic`; a short
encoder schedule; and, with a `StylizationSchedule`, the stages after it (motion VAE,
diffusion base + adaptor, the frozen evaluator, three stylize jobs on held-out `normal` clips:
by label, by the dance video nobody trained on, and arms only; the evaluation and the report).
Paths are made absolute so a deployment's worker and a training run started elsewhere find the
same files.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from extract.crawl.config import CrawlConfig
from extract.mocap.ingest import MocapIngestConfig
from extract.video.ingest import VideoExtractConfig
from flows.crawl_params import CrawlExtractConfig
from flows.jobs.evaluate import EvaluateConfig
from flows.jobs.stylize import StylizeJobConfig
from flows.pipeline_params import PipelineConfig
from flows.stylization_params import StylizationStagesConfig
from models.diffusion.train import DenoiserSize, TrainDiffusionConfig
from models.diffusion.train_vae import TrainVAEConfig, VAESize
from models.encoders.train_config import ModelSize, TrainEncodersConfig
from models.evaluation.train_evaluator import TrainEvaluatorConfig

SAMPLE_VIDEOS = ("video/gvhmr/tennis.mp4",)
SAMPLE_STYLE = "energetic"
# a style reference nobody trained on: the stylize stage takes its style from this video
REFERENCE_VIDEO = "video/footskate_reducer/dance.mp4"
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


@dataclass(frozen=True)
class StylizationSchedule:
    """How long the stages after the encoders train (the demo's short CPU schedule)."""

    vae_steps: int = 150
    vae_batch_size: int = 64
    base_steps: int = 300
    adaptor_steps: int = 150
    evaluator_steps: int = 200
    batch_size: int = 32
    sources: int = 4  # held-out `normal` clips each stylize job restyles
    tiny: bool = False


def _short_run(steps: int, log_cap: int) -> dict[str, int]:
    """Warm-up, checkpoint and logging intervals of a short run of `steps` steps."""
    return {
        "warmup_steps": min(100, max(1, steps // 10)),
        "checkpoint_every": max(1, steps),
        "log_every": max(1, min(log_cap, steps // 10)),
    }


def _diffusion_configs(
    root: str, encoders: str, runs: Path, schedule: StylizationSchedule
) -> tuple[TrainVAEConfig, TrainDiffusionConfig]:
    tiny = schedule.tiny
    vae = TrainVAEConfig(
        data_root=root,
        encoder_run=encoders,
        out=str(runs / "vae"),
        steps=schedule.vae_steps,
        batch_size=schedule.vae_batch_size,
        learning_rate=0.002,
        **_short_run(schedule.vae_steps, log_cap=50),
        model=VAESize(hidden=32, latent_dim=8) if tiny else VAESize(),
    )
    base = TrainDiffusionConfig(
        data_root=root,
        encoder_run=encoders,
        out=str(runs / "diffusion_base"),
        steps=schedule.base_steps,
        batch_size=schedule.batch_size,
        **_short_run(schedule.base_steps, log_cap=20),
        model=DenoiserSize(d_model=32, num_layers=2, num_heads=2, lora_rank=4)
        if tiny
        else DenoiserSize(),
    )
    return vae, base


def sample_stylization(
    data: Path, out: Path, root: str, encoders: str, schedule: StylizationSchedule
) -> StylizationStagesConfig:
    """Diffusion, evaluator, three stylize jobs on held-out clips, evaluation and report."""
    runs = out / "runs"
    vae, base = _diffusion_configs(root, encoders, runs, schedule)
    adaptor = str(runs / "diffusion_adaptor")
    evaluator = TrainEvaluatorConfig(
        data_root=root, out=str(runs / "evaluator"), steps=schedule.evaluator_steps
    )
    held_out = {"sources": (root,), "source_split": "test", "source_style": "normal"}
    common = held_out | {"run": adaptor, "limit": schedule.sources, "batch_size": 8}
    stylized = out / "stylized"
    jobs = (
        StylizeJobConfig(style=("angry",), out=str(stylized / "label-angry"), **common),
        StylizeJobConfig(
            style=(str(data / REFERENCE_VIDEO),), out=str(stylized / "video-dance"), **common
        ),
        StylizeJobConfig(
            style=("normal",),
            parts={"arms": "old"},
            out=str(stylized / "arms-old-legs-kept"),
            **common,
        ),
    )
    evaluation = EvaluateConfig(
        data=root,
        runs=(adaptor,),
        evaluator=evaluator.out,
        strengths=(0.0, 1.0, 2.0),
        seeds=(0,),
        styles=("angry", "old", "proud"),
        max_sources=schedule.sources,
    )
    return StylizationStagesConfig(
        diffusion=base,  # train-diffusion diffuses in the VAE's latent when given `vae`
        adaptor_out=adaptor,
        adaptor_steps=schedule.adaptor_steps,
        vae=vae,
        evaluator=evaluator,
        jobs=jobs,
        evaluation=evaluation,
        report_dir=str(out / "report"),
    )


def sample_pipeline_config(
    data_dir: str | Path,
    out_dir: str | Path,
    steps: int = 300,
    with_videos: bool = True,
    tiny_model: bool = False,
    stylization: StylizationSchedule | None = None,
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
    encoders = str(out / "runs" / "encoders")
    stages = None
    if stylization is not None:
        stages = sample_stylization(data, out, root, encoders, stylization)
    return PipelineConfig(
        root=root,
        mocap=mocap,
        videos=videos if with_videos else None,
        train=sample_training(root, encoders, steps, tiny_model),
        preview_dir=str(out / "previews"),
        stylization=stages,
    )
