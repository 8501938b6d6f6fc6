"""Prefect flow `train-scene-encoder`: one scene-encoder run, then its scene evaluation.

Composes `models.scene.train.train_scene_encoder` (one task: the whole run, seconds to minutes
since the frozen encoder codes every window once; a retry re-runs it, a finished run returns at
once) and `models.scene.evaluate.evaluate_scene_run` (one task: with/without scene, alpha sweep PNG,
encoder-vs-text table). The parameters are the library's `TrainSceneConfig` plus the optional
CLIP model (scene-name embeddings) and text model (the scene-as-text ablation). Artifacts: the
training metrics and the comparison table, titled with the data provenance ("controlled" for
the Bandai construction). The deployment runs on the GPU pool like the other training flows.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_training_metrics
from flows.jobs.scene_style import evaluate_scene, label_embeddings
from flows.validation import ParameterError, require, require_positive
from models.scene.condition import ALPHA_MAX
from models.scene.data import SceneDataError
from models.scene.train import TrainSceneConfig, train_scene_encoder
from storage.shard_reader import ShardReader


def _retry_unless_bad_data(task, task_run, state) -> bool:  # noqa: ANN001 - Prefect's hook
    try:
        state.result()
    except (SceneDataError, ParameterError):
        return False
    except Exception:
        return True
    return True


def _train(config: TrainSceneConfig, clip_model: str | None) -> str:
    return str(train_scene_encoder(config, label_embeddings(clip_model, offline=False)))


def _evaluate(run_dir: str, text_model: str | None) -> str:
    from models.scene.evaluate import DEFAULT_ALPHAS

    evaluate_scene(run_dir, None, text_model, False, DEFAULT_ALPHAS, 1.0)
    return (Path(run_dir) / "eval" / "table.md").read_text(encoding="utf-8")


train_task = task(
    _train, name="train-scene-encoder-run", retries=1, retry_delay_seconds=30,
    retry_condition_fn=_retry_unless_bad_data, timeout_seconds=6 * 3600,
    tags=["training", "gpu"], cache_policy=NO_CACHE,
)  # fmt: skip
evaluate_task = task(
    _evaluate, name="evaluate-scene", retries=1, retry_delay_seconds=10, timeout_seconds=3600,
    tags=["evaluation"], cache_policy=NO_CACHE,
)  # fmt: skip


def check_scene_training(config: TrainSceneConfig, where: str = "config") -> None:
    """Positive limits, alphas within the stylize range, data and encoder run present."""
    require_positive({"steps": config.steps, "log_every": config.log_every}, where)
    require(config.alpha_max <= ALPHA_MAX, f"{where}.alpha_max", f"must be <= {ALPHA_MAX}")
    require(bool(ShardReader(config.data_root).shard_ids()), f"{where}.data_root",
            f"{config.data_root} holds no finished shards")  # fmt: skip
    require((Path(config.encoder_run) / "last.pt").is_file(), f"{where}.encoder_run",
            f"{config.encoder_run} is not a train-encoders run")  # fmt: skip


@flow(name="train-scene-encoder")
def train_scene_encoder_flow(
    config: TrainSceneConfig,
    clip_model: str | None = None,
    text_model: str | None = None,
    evaluate: bool = True,
) -> dict[str, object]:
    """Train (or return the finished) scene run `config.out`, then evaluate it."""
    check_scene_training(config)
    logger = get_run_logger()
    run_dir = train_task(config, clip_model)
    publish_training_metrics(run_dir, key="train-scene-encoder-metrics")
    outcome: dict[str, object] = {"run_dir": run_dir}
    if evaluate:
        table = evaluate_task(run_dir, text_model)
        create_markdown_artifact(table, key="train-scene-encoder-evaluation")
        outcome["table"] = table
    logger.info("train-scene-encoder: %s", outcome)
    return outcome
