"""Prefect flow `pipeline`: ingest (mocap, videos) -> label scenes -> train encoders -> evaluate
-> (with `stylization`) diffusion -> evaluator -> stylize -> evaluation -> report.

Each stage is the stage's own flow run as a subflow (`ingest-mocap`, `crawl-and-extract`,
`label-scenes`, `train-encoders`, `stylize-stages`), so each has its own logs, retries and
artifacts, and the
pipeline adds a summary of the whole dataset, its failure table and a skeleton preview.
Training goes to the deployment `config.train_deployment` with `run_deployment` when a Prefect
server has it and a worker serves its pool (the GPU pool in production), and runs in this
process otherwise (the embedded default: no server, no workers). The scene step needs CLIP
weights, so it runs only when a scene model is set and is reported as skipped otherwise.
"""

from __future__ import annotations

import os
from dataclasses import asdict

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import WorkPoolStatus
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound

from extract.mocap.ingest import MocapIngestConfig
from flows.artifacts import publish_dataset_summary, publish_item_failures, publish_preview
from flows.crawl_flows import crawl_and_extract_flow
from flows.mocap_flows import ingest_mocap_flow
from flows.pipeline_params import TRAINING_MODES, PipelineConfig
from flows.stylization_flows import check_stages, stylize_stages_flow
from flows.task_runners import task_runner_from_environment
from flows.training_flows import train_encoders_flow, training_outcome
from flows.validation import check_crawl_extract, check_mocap, check_training, require

SCENE_MODEL_ENV = "STYLEMOTION_SCENE_MODEL"


class TrainingRunError(RuntimeError):
    """The training deployment's run did not complete."""


def check_pipeline(config: PipelineConfig) -> None:
    """Every stage's parameters, and that the stages share the pipeline's root."""
    require(bool(config.mocap or config.videos or config.train), "config", "no stage is configured")
    modes = ", ".join(TRAINING_MODES)
    require(config.training_mode in TRAINING_MODES, "config.training_mode", f"one of {modes}")
    require(config.training_timeout_s > 0, "config.training_timeout_s", "must be > 0")
    roots = {
        f"config.mocap[{index}].out_root": mocap.out_root
        for index, mocap in enumerate(config.mocap)
    } | {
        "config.videos.crawl.out_root": config.videos.crawl.out_root if config.videos else None,
        "config.train.data_root": config.train.data_root if config.train else None,
    }
    for where, root in roots.items():
        require(root in (None, config.root), where, f"must equal config.root ({config.root!r})")
    names = [mocap.dataset_name for mocap in config.mocap]
    require(len(set(names)) == len(names), "config.mocap", f"a dataset given twice: {names}")
    for index, mocap in enumerate(config.mocap):
        check_mocap(mocap, f"config.mocap[{index}]")
    if config.videos:
        check_crawl_extract(config.videos, "config.videos")
    if config.train:
        check_training(config.train, "config.train", require_data=False)
    if config.stylization:
        check_stylization_roots(config)


def check_stylization_roots(config: PipelineConfig) -> None:
    """The stages after training read the pipeline's root and its encoder run."""
    stages = config.stylization
    require(config.train is not None, "config.stylization", "needs config.train (the encoders)")
    encoders = config.train.out if config.train else None
    where = "config.stylization.diffusion"
    require(stages.diffusion.data_root == config.root, f"{where}.data_root", "must equal root")
    require(stages.diffusion.encoder_run == encoders, f"{where}.encoder_run", "must be train.out")
    check_stages(stages, "config.stylization")


def label_scenes_step(config: PipelineConfig) -> dict[str, object]:
    """The `label-scenes` subflow, or why it was skipped."""
    logger = get_run_logger()
    model = config.scene_model or os.environ.get(SCENE_MODEL_ENV)
    if not config.label_scenes:
        reason = "label_scenes is off"
    elif not model:
        reason = (
            f"no scene model: set config.scene_model or ${SCENE_MODEL_ENV} to CLIP weights "
            "(a local directory or hf-hub id); the sample data ships none"
        )
    else:
        try:
            from extract.scene_labels.labelling import SceneLabelConfig
            from flows.scene_label_flows import label_scenes_flow
        except ImportError as error:
            reason = f"scene labelling is not available: {error}"
        else:
            return dict(label_scenes_flow(SceneLabelConfig(root=config.root, clip_model=model)))
    logger.warning("label-scenes skipped: %s", reason)
    return {"skipped": reason}


def training_deployment_ready(name: str) -> str | None:
    """None when the deployment exists and its work pool has a worker; else the reason not."""
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(name)
        except ObjectNotFound:
            return f"no deployment {name} on this Prefect server"
        if deployment.work_pool_name:
            pool = client.read_work_pool(deployment.work_pool_name)
            if pool.status is not WorkPoolStatus.READY:
                return f"work pool {pool.name} of {name} has no online worker"
    return None


def train_step(config: PipelineConfig) -> dict[str, object]:
    """Train through the training deployment when there is one to use, else in this process."""
    logger = get_run_logger()
    train = config.train
    reason = None
    if config.training_mode == "auto":
        reason = training_deployment_ready(config.train_deployment)
    if config.training_mode == "in-process" or reason is not None:
        logger.info("training in this process (%s)", reason or "training_mode in-process")
        return train_encoders_flow(train, evaluate=config.evaluate) | {"via": "in-process"}
    logger.info("training through deployment %s", config.train_deployment)
    run = run_deployment(
        config.train_deployment,
        parameters={"config": asdict(train), "evaluate": config.evaluate},
        timeout=config.training_timeout_s,
        poll_interval=2,
    )
    if run.state is None or not run.state.is_completed():
        state = run.state.type.value if run.state else "unknown"
        raise TrainingRunError(f"{config.train_deployment} run {run.name} ended {state}")
    return training_outcome(train.out) | {"via": config.train_deployment, "flow_run": run.name}


def ingest_mocap_sets(configs: tuple[MocapIngestConfig, ...]) -> dict[str, object]:
    """One `ingest-mocap` subflow per dataset; their totals summed, and each set's own."""
    per_set = {config.dataset_name: ingest_mocap_flow(config) for config in configs}
    totals: dict[str, object] = {}
    for counts in per_set.values():
        for name, value in counts.items():
            totals[name] = int(totals.get(name, 0)) + value
    return totals | {"datasets": per_set}


@flow(name="pipeline", task_runner=task_runner_from_environment())
def pipeline_flow(config: PipelineConfig) -> dict[str, object]:
    """Run every configured stage in order; returns each stage's small summary."""
    check_pipeline(config)
    logger = get_run_logger()
    outcome: dict[str, object] = {}
    if config.mocap:
        outcome["mocap"] = ingest_mocap_sets(config.mocap)
    if config.videos:
        outcome["videos"] = crawl_and_extract_flow(config.videos)
    outcome["scenes"] = label_scenes_step(config)
    publish_dataset_summary(config.root, "pipeline dataset", key="pipeline-summary")
    outcome["item_failures"] = publish_item_failures(config.root, key="pipeline-failures")
    outcome["preview"] = publish_preview(config.root, config.preview_dir, key="pipeline-preview")
    if config.train:
        outcome["training"] = train_step(config)
    if config.stylization:
        outcome["stylization"] = stylize_stages_flow(config.stylization)
    logger.info("pipeline: %s", outcome)
    return outcome
