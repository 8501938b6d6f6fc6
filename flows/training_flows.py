"""Prefect flow `train-encoders`: one training run, then its evaluation, with artifacts.

Composes `models.encoders.train.train_encoders` (one task: the whole run; a retry resumes from
the run's `last.pt`, so a lost worker costs at most `checkpoint_every` steps) and
`models.encoders.evaluate.evaluate_encoders` (one task). The parameters are the library's
`TrainEncodersConfig`. Artifacts: a table of the logged training metrics and a table of the
evaluation. In `prefect.yaml` the `gpu` deployment of this flow runs on the GPU work pool; the
`pipeline` flow starts it with `run_deployment` when a server has it.
"""

from __future__ import annotations

import json
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_evaluation, publish_training_metrics, read_metrics
from flows.validation import check_training
from models.encoders.evaluate import EvalConfig, EvaluationError, evaluate_encoders, write_report
from models.encoders.run import EncoderRunError
from models.encoders.train import train_encoders
from models.encoders.train_config import TrainEncodersConfig
from models.encoders.training_data import TrainingDataError

EVAL_DIR = "eval"


def _retry_unless_bad_data(task, task_run, state) -> bool:  # noqa: ANN001 - Prefect's hook
    """Retry infrastructure failures (resuming from the checkpoint), not unusable data."""
    try:
        state.result()
    except TrainingDataError:
        return False
    except Exception:
        return True
    return True


def _train(config: TrainEncodersConfig) -> str:
    return str(train_encoders(config))


def report_path(run_dir: str, split: str) -> Path:
    return Path(run_dir) / EVAL_DIR / f"report_{split}.json"


def _evaluate(run_dir: str, split: str) -> dict[str, object]:
    """The evaluation report of a run (also written as JSON in the run), or why it was skipped."""
    out_dir = Path(run_dir) / EVAL_DIR
    try:
        report = evaluate_encoders(
            EvalConfig(run=run_dir, split=split), plot_path=out_dir / f"style_pca_{split}.png"
        )
    except (EncoderRunError, EvaluationError) as error:
        return {"run": run_dir, "skipped": str(error)}
    write_report(report, report_path(run_dir, split))
    return report


train_task = task(
    _train,
    name="train-encoders-run",
    retries=1,
    retry_delay_seconds=30,
    retry_condition_fn=_retry_unless_bad_data,
    timeout_seconds=24 * 3600,
    tags=["training", "gpu"],
    cache_policy=NO_CACHE,
)
evaluate_task = task(
    _evaluate,
    name="evaluate-encoders",
    retries=1,
    retry_delay_seconds=10,
    timeout_seconds=3600,
    tags=["evaluation"],
    cache_policy=NO_CACHE,
)


def training_outcome(run_dir: str, split: str = "test") -> dict[str, object]:
    """Small numbers describing a finished run, read from its directory (on a shared disk)."""
    metrics = read_metrics(run_dir)
    outcome: dict[str, object] = {"run_dir": run_dir}
    if metrics:
        outcome |= {"step": metrics[-1]["step"], "final_loss": metrics[-1].get("total")}
    path = report_path(run_dir, split)
    if path.is_file():
        report = json.loads(path.read_text(encoding="utf-8"))
        for key in ("style_knn_top1", "style_linear_probe", "style_from_content_leakage"):
            if key in report:
                outcome[key] = report[key]
    return outcome


def publish_training(run_dir: str, report: dict[str, object] | None) -> None:
    publish_training_metrics(run_dir, key="train-encoders-metrics")
    if report and "skipped" not in report:
        publish_evaluation(report, key="train-encoders-evaluation")


@flow(name="train-encoders")
def train_encoders_flow(
    config: TrainEncodersConfig, evaluate: bool = True, eval_split: str = "test"
) -> dict[str, object]:
    """Train (or resume) the run `config.out`, evaluate it on `eval_split`; returns a summary."""
    check_training(config)
    logger = get_run_logger()
    run_dir = train_task(config)
    report = evaluate_task(run_dir, eval_split) if evaluate else None
    if report and "skipped" in report:
        logger.warning("evaluation skipped: %s", report["skipped"])
    publish_training(run_dir, report)
    outcome = training_outcome(run_dir, eval_split)
    logger.info("train-encoders: %s", outcome)
    return outcome
