"""Prefect flows `train-diffusion` and `stylize-batch`: the diffusion stage and the batch job.

Compose `models.diffusion.train.train_diffusion` (one task per stage run: the motion VAE first
in latent mode, base, then adaptor when asked; a retry starts the stage again from its
parameters) and
`flows.jobs.stylize.run_stylize_job` (one task per job; shards are written per batch of sources,
so finished batches survive). Parameters are the library's own config dataclasses
(`TrainDiffusionConfig`, `StylizeJobConfig`). Artifacts: the training metrics table and a
markdown summary of the stylized clips with links to preview videos. In `prefect.yaml` both run
on the GPU work pool.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_training_metrics, read_metrics
from flows.jobs.stylize import StylizeJobConfig, run_stylize_job
from flows.validation import ParameterError, require
from models.diffusion.train import TrainDiffusionConfig, train_diffusion
from models.diffusion.train_vae import TrainVAEConfig, train_vae


def _train(config: TrainDiffusionConfig) -> str:
    from models.scene.finetune import SceneFusionTargets  # the scene fine-tune's hook

    return str(train_diffusion(config, scene_fusion=SceneFusionTargets, show_progress=True))


def _train_vae(config: TrainVAEConfig) -> str:
    return str(train_vae(config, show_progress=True))


def _stylize(config: StylizeJobConfig) -> dict[str, object]:
    summary = run_stylize_job(config)
    return {
        "stylized": summary.stylized,
        "failed": summary.failed,
        "shards": summary.shards,
        "previews": summary.previews,
    }


train_stage_task = task(
    _train,
    name="train-diffusion-stage",
    retries=1,
    retry_delay_seconds=30,
    timeout_seconds=24 * 3600,
    tags=["training", "gpu"],
    cache_policy=NO_CACHE,
)
vae_task = task(
    _train_vae,
    name="train-vae",
    retries=1,
    retry_delay_seconds=30,
    timeout_seconds=12 * 3600,
    tags=["training", "gpu"],
    cache_policy=NO_CACHE,
)
stylize_task = task(
    _stylize,
    name="stylize-job",
    retries=1,
    retry_delay_seconds=10,
    timeout_seconds=6 * 3600,
    tags=["stylize", "gpu"],
    cache_policy=NO_CACHE,
)


def check_diffusion(config: TrainDiffusionConfig, where: str = "config") -> None:
    require(config.steps > 0, f"{where}.steps", "must be > 0")
    require(Path(config.encoder_run, "last.pt").is_file(), f"{where}.encoder_run",
            f"{config.encoder_run} is not a train-encoders run (no last.pt)")  # fmt: skip
    require(Path(config.data_root).is_dir(), f"{where}.data_root", "no such directory")
    if config.latent_vae:
        require(Path(config.latent_vae, "vae.pt").is_file(), f"{where}.latent_vae",
                f"{config.latent_vae} is not a train-vae run (no vae.pt)")  # fmt: skip


@flow(name="train-diffusion")
def train_diffusion_flow(
    config: TrainDiffusionConfig,
    adaptor_steps: int = 0,
    adaptor_out: str | None = None,
    vae: TrainVAEConfig | None = None,
    adaptor_source_control: bool = True,
) -> dict[str, object]:
    """Train `config`'s stage; with `adaptor_steps` > 0 after a base stage, train the adaptor on
    top of it into `adaptor_out` (with the source-control branch when `adaptor_source_control`);
    with `vae`, first train the motion VAE and diffuse in its latent (latent mode). Returns the
    run directories and final losses."""
    check_diffusion(config)
    if vae is not None:
        if config.stage != "base":
            raise ParameterError("vae: the latent mode is chosen at the base stage")
        config = replace(config, latent_vae=vae.out)
    if adaptor_steps and (config.stage != "base" or not adaptor_out):
        raise ParameterError("adaptor_steps needs a base-stage config and adaptor_out")
    logger = get_run_logger()
    runs: dict[str, str] = {}
    if vae is not None:
        runs["vae"] = vae_task(vae)
    runs[config.stage] = train_stage_task(config)
    if adaptor_steps:
        adaptor = replace(
            config,
            stage="adaptor",
            base_run=runs["base"],
            out=adaptor_out,
            steps=adaptor_steps,
            source_control=adaptor_source_control,
        )
        runs["adaptor"] = train_stage_task(adaptor)
    outcome: dict[str, object] = {}
    if "vae" in runs:
        outcome["vae"] = {"run_dir": runs.pop("vae")}
    for stage, run_dir in runs.items():
        publish_training_metrics(run_dir, key=f"train-diffusion-{stage}-metrics")
        metrics = read_metrics(run_dir)
        outcome[stage] = {"run_dir": run_dir, "final": metrics[-1] if metrics else None}
    logger.info("train-diffusion: %s", outcome)
    return outcome


@flow(name="stylize-batch")
def stylize_batch_flow(config: StylizeJobConfig) -> dict[str, object]:
    """Run one batch stylization job; a markdown artifact lists the outputs and previews."""
    require(0.0 <= config.strength <= 10.0, "config.strength", "must be in [0, 10]")
    require(config.steps > 0, "config.steps", "must be > 0")
    require(Path(config.run, "last.pt").is_file(), "config.run", f"{config.run}: no diffusion run")
    result = stylize_task(config)
    previews = "\n".join(f"- `{path}`" for path in result["previews"][:20]) or "(none)"
    create_markdown_artifact(
        f"## stylize-batch\n\nstyle `{' '.join(config.style)}` parts `{config.parts}` strength "
        f"{config.strength}, {config.steps} DDIM steps, seed {config.seed}\n\n"
        f"stylized {result['stylized']}, failed {result['failed']} (failures table in "
        f"`{config.out}/dataset`)\n\npreviews (source | stylized):\n{previews}\n",
        key="stylize-batch-summary",
    )
    return {k: v for k, v in result.items() if k != "previews"}
