"""Prefect flow `stylize-stages`: from frozen encoders to stylized motion, judged and reported.

Composes what the stages already are: `train-diffusion` as a subflow (motion VAE, base,
adaptor), the frozen evaluator's training (one task), each `stylize-batch` job as a subflow,
the stylization evaluation against the baselines and the real data (one task:
`flows.jobs.evaluate.evaluation_report`, with its strength-sweep plot) and the static report
page (`flows.artifacts.publish_report`). Every stage records what it was run with and what it
gave in a done marker (`stage_done.json` in its output directory); a re-run with the same
parameters skips it and returns the recorded result, so re-running the demo only does what is
missing.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_report
from flows.diffusion_flows import stylize_batch_flow, train_diffusion_flow
from flows.jobs.evaluate import EvaluateConfig, evaluation_report, write_evaluation
from flows.stylization_params import StylizationStagesConfig
from flows.validation import require
from models.evaluation.train_evaluator import TrainEvaluatorConfig, train_evaluator
from storage.checksums import file_sha256

DONE_MARKER = "stage_done.json"


def _plain(value: object) -> object:
    return json.loads(json.dumps(value, default=str))


def recorded(out_dir: str | Path, parameters: object) -> dict | None:
    """The result a finished stage recorded in `out_dir`, if it ran with `parameters`."""
    path = Path(out_dir) / DONE_MARKER
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("parameters") != _plain(parameters):
        return None
    return marker.get("result")


def record(out_dir: str | Path, parameters: object, result: object) -> None:
    """Mark the stage in `out_dir` done (written last, atomically)."""
    path = Path(out_dir) / DONE_MARKER
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    marker = {"parameters": _plain(parameters), "result": _plain(result)}
    temporary.write_text(json.dumps(marker, indent=2), encoding="utf-8")
    temporary.replace(path)


def fingerprint(path: str | Path) -> str | None:
    """sha256 of a checkpoint a stage builds on (None when absent): retrained upstream, re-run."""
    path = Path(path)
    return file_sha256(path) if path.is_file() else None


def _train_evaluator(config: TrainEvaluatorConfig) -> dict:
    summary = train_evaluator(config)
    return {key: summary[key] for key in ("checkpoint", "pool_clips") if key in summary}


def _evaluate(config: EvaluateConfig, out: str) -> dict:
    report, plot = Path(out) / "report.json", Path(out) / "sweep.png"
    write_evaluation(evaluation_report(config), report, plot)
    return {"report": str(report), "plot": str(plot)}


evaluator_task = task(
    _train_evaluator, name="train-evaluator", retries=1, cache_policy=NO_CACHE, tags=["training"]
)
evaluate_task = task(_evaluate, name="evaluate-stylization", retries=1, cache_policy=NO_CACHE)


def check_stages(config: StylizationStagesConfig, where: str = "config") -> None:
    require(config.adaptor_steps > 0, f"{where}.adaptor_steps", "must be > 0")
    require(config.diffusion.stage == "base", f"{where}.diffusion.stage", "must be base")
    for index, job in enumerate(config.jobs):
        require(job.run == config.adaptor_out, f"{where}.jobs[{index}].run", "must be adaptor_out")
    if config.evaluation is not None:
        require(
            config.evaluation.runs == (config.adaptor_out,),
            f"{where}.evaluation.runs",
            "must be (adaptor_out,)",
        )


def _diffusion_stage(config: StylizationStagesConfig) -> dict:
    parameters = {
        "diffusion": asdict(config.diffusion),
        "vae": asdict(config.vae) if config.vae else None,
        "adaptor_steps": config.adaptor_steps,
        "adaptor_source_control": config.adaptor_source_control,
        "encoders": fingerprint(Path(config.diffusion.encoder_run) / "last.pt"),
    }
    return _once(
        config.adaptor_out,
        parameters,
        lambda: train_diffusion_flow(
            config.diffusion,
            config.adaptor_steps,
            config.adaptor_out,
            config.vae,
            config.adaptor_source_control,
        ),
    )


def _once(out_dir: str, parameters: object, run) -> dict:  # noqa: ANN001 - a callable
    """`run()` unless `out_dir` records it done with `parameters` (then that result)."""
    done = recorded(out_dir, parameters)
    if done is not None:
        return done | {"skipped": "done before"}
    result = run()
    record(out_dir, parameters, result)
    return result


def evaluation_dir(config: StylizationStagesConfig) -> str:
    return str(Path(config.adaptor_out).parent / "evaluation")


@flow(name="stylize-stages")
def stylize_stages_flow(config: StylizationStagesConfig) -> dict[str, object]:
    """Every configured stage in order; each stage's small result (or that it was skipped)."""
    check_stages(config)
    logger = get_run_logger()
    outcome: dict[str, object] = {"diffusion": _diffusion_stage(config)}
    model = fingerprint(Path(config.adaptor_out) / "last.pt")
    if config.evaluator is not None:
        evaluator = config.evaluator
        outcome["evaluator"] = _once(
            evaluator.out, asdict(evaluator), lambda: evaluator_task(evaluator)
        )
    jobs = []
    for job in config.jobs:
        parameters = {"job": asdict(job), "model": model}
        jobs.append(_once(job.out, parameters, lambda job=job: stylize_batch_flow(job)))
    outcome["stylize"] = jobs
    if config.evaluation is not None:
        evaluation, out = config.evaluation, evaluation_dir(config)
        judge = fingerprint(Path(evaluation.evaluator) / "evaluator.pt")
        parameters = {"evaluation": asdict(evaluation), "model": model, "evaluator": judge}
        outcome["evaluation"] = _once(out, parameters, lambda: evaluate_task(evaluation, out))
    if config.report_dir:
        outcome["report"] = publish_report(
            str(Path(config.report_dir).parent), report_inputs(config), config.report_dir
        )
    logger.info("stylize-stages: %s", outcome)
    return outcome


def report_inputs(config: StylizationStagesConfig) -> list[str]:
    """Everything the stages read and wrote, for the report page (`flows.report`)."""
    runs = [config.diffusion.data_root, config.diffusion.encoder_run]
    runs += [config.vae.out] if config.vae else []
    runs += [config.diffusion.out, config.adaptor_out]
    runs += [config.evaluator.out] if config.evaluator else []
    runs += [evaluation_dir(config)] if config.evaluation else []
    return runs + [job.out for job in config.jobs]
