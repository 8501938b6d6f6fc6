"""The stylization evaluation job: baselines, the real data and diffusion runs on held-out clips.

Owns `EvaluateConfig` (what `stylemotion evaluate` builds from `--config`/`--set` and its
shortcut flags) and `evaluation_report(config)`: sources are the `source_style` clips of the
test split, targets every other style (or `styles`, by any dataset's name: the style
vocabulary), references the test-split clips of those styles, the baselines' pool the training
split; the stylizers are the baselines, the diffusion runs (`runs`) and the feed-forward AdaIN
runs (`adain_runs`, `models.feedforward`), none of the runs with `baselines_only`; every stylizer
is scored by the frozen evaluator (`models.evaluation.stylization_eval`).
`check()` refuses impossible parameters before anything loads.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from models.diffusion.sampling_defaults import DEFAULT_CONTENT_PATH, DEFAULT_STRENGTH
from storage.errors import UserInputError

DEFAULT_EVALUATOR = "runs/evaluator"


class EvaluateJobError(UserInputError, ValueError):
    """Evaluation parameters or inputs that cannot be evaluated; the message says which."""


@dataclass(frozen=True)
class EvaluateConfig:
    data: str
    runs: tuple[str, ...] = ()  # diffusion runs; none: baselines only
    adain_runs: tuple[str, ...] = ()  # train-adain runs (the feed-forward baseline)
    evaluator: str = DEFAULT_EVALUATOR
    strengths: tuple[float, ...] = (DEFAULT_STRENGTH,)
    seeds: tuple[int, ...] = (0, 1)
    source_style: str = "normal"
    styles: tuple[str, ...] = ()  # target styles; empty: every other style
    baselines_only: bool = False
    part_targets: bool = True
    ddim_steps: int = 20
    source_noise: float = 1.0
    max_sources: int | None = None  # the first N sources (by clip id) only; None: all
    content_paths: tuple[str, ...] = (DEFAULT_CONTENT_PATH,)  # sampler paths, each scored

    def check(self) -> None:
        """Strengths, seeds, DDIM steps and source noise, before any model or data loads."""
        if not self.strengths or not self.seeds:
            raise EvaluateJobError("--strengths and --seeds each need at least one value")
        for strength in self.strengths:
            if not (math.isfinite(strength) and 0.0 <= strength <= 10.0):
                shown = ",".join(f"{s:g}" for s in self.strengths)
                raise EvaluateJobError(f"--strengths {shown}: each must lie in [0, 10]")
        if not 1 <= self.ddim_steps <= 1000:
            raise EvaluateJobError(f"--ddim-steps {self.ddim_steps}: must be in [1, 1000]")
        if not (math.isfinite(self.source_noise) and 0.0 < self.source_noise <= 1.0):
            raise EvaluateJobError(f"--source-noise {self.source_noise:g}: must lie in (0, 1]")
        from models.diffusion.sampling_defaults import CONTENT_PATHS

        unknown = [path for path in self.content_paths if path not in CONTENT_PATHS]
        if unknown or not self.content_paths:
            shown = ",".join(self.content_paths) or "(none)"
            raise EvaluateJobError(
                f"--content-path {shown}: use some of {', '.join(CONTENT_PATHS)}"
            )
        if self.max_sources is not None and self.max_sources < 1:
            raise EvaluateJobError(f"max_sources {self.max_sources}: must be >= 1")


def load_model_stylizer(
    run_dir: str | Path,
    steps: int = 20,
    device: str = "cpu",
    source_noise: float = 1.0,
    content_path: str = DEFAULT_CONTENT_PATH,
):
    """The diffusion run at `run_dir` (adaptor stage) as a `Stylizer` of the evaluation."""
    from models.diffusion.checkpoint import DiffusionCheckpointError
    from models.diffusion.stylize import DiffusionStylizer, StylizeError
    from models.evaluation.stylization_eval import EvaluationError

    try:
        return DiffusionStylizer.load(run_dir, device, steps, source_noise, content_path)
    except (DiffusionCheckpointError, StylizeError) as error:
        raise EvaluationError(str(error)) from error


def load_adain_stylizer(run_dir: str | Path, device: str = "cpu"):
    """The train-adain run at `run_dir` as a `Stylizer` of the evaluation."""
    from models.diffusion.stylize import StylizeError
    from models.evaluation.stylization_eval import EvaluationError
    from models.feedforward.checkpoint import AdaINCheckpointError
    from models.feedforward.stylize import AdaINStylizer

    try:
        return AdaINStylizer.load(run_dir, device)
    except (AdaINCheckpointError, StylizeError) as error:
        raise EvaluationError(str(error)) from error


def evaluation_inputs(data: str, source_style: str, styles: tuple[str, ...]):
    """(sources, target styles, real reference clips, baseline pool) from a dataset root."""
    from extract.mocap.style_vocabulary import load_style_vocabulary
    from models.encoders.windows import load_clips
    from storage.shard_reader import ShardReader

    vocabulary = load_style_vocabulary()  # styles asked by any dataset's name: the shared one
    source_style = vocabulary.resolve(source_style)
    wanted = [vocabulary.resolve(style) for style in styles]
    if not ShardReader(data).shard_ids():
        raise EvaluateJobError(f"{data}: no finished shards here (is this a dataset root?)")
    held_out = load_clips(data, splits=("test",))
    sources = [clip for clip in held_out if clip.style == source_style]
    if not sources:
        raise EvaluateJobError(f"{data}: no '{source_style}' clips in the held-out (test) split")
    real = [clip for clip in held_out if clip.style not in (None, source_style)]
    targets = wanted or sorted({clip.style for clip in real})
    return sources, targets, real, load_clips(data, splits=("train",))


def evaluation_report(config: EvaluateConfig) -> dict:
    """The JSON-ready report of `models.evaluation.stylization_eval.evaluate_stylizers`."""
    from models.evaluation.baselines import baseline_stylizers
    from models.evaluation.evaluator import EvaluatorError, load_evaluator
    from models.evaluation.stylization_eval import EvaluationError, evaluate_stylizers

    config.check()
    sources, styles, real, pool = evaluation_inputs(config.data, config.source_style, config.styles)
    if config.max_sources is not None:
        sources = sorted(sources, key=lambda clip: clip.clip_id)[: config.max_sources]
    try:
        evaluator = load_evaluator(config.evaluator)
        stylizers = baseline_stylizers(pool)
        for run in () if config.baselines_only else config.runs:
            for path in config.content_paths:
                model = load_model_stylizer(
                    run, config.ddim_steps, source_noise=config.source_noise, content_path=path
                )
                model.name = _model_name(run, path, config)
                stylizers.append(model)
        for run in () if config.baselines_only else config.adain_runs:
            adain = load_adain_stylizer(run)
            if len(config.adain_runs) > 1:
                adain.name = f"{adain.name}:{Path(run).name}"
            stylizers.append(adain)
        report = evaluate_stylizers(
            stylizers,
            sources,
            styles,
            evaluator,
            real,
            strengths=list(config.strengths),
            seeds=list(config.seeds),
            part_targets=config.part_targets,
        )
    except (EvaluatorError, EvaluationError) as error:
        raise EvaluateJobError(str(error)) from error
    settings = ("content_paths", "ddim_steps", "source_noise", "max_sources")
    return report | {"settings": {name: getattr(config, name) for name in settings}}


def _model_name(run: str, content_path: str, config: EvaluateConfig) -> str:
    """ "diffusion", plus the run's directory name when several runs and the content path when
    several paths are scored in one report."""
    name = f"diffusion:{Path(run).name}" if len(config.runs) > 1 else "diffusion"
    return f"{name}:{content_path}" if len(config.content_paths) > 1 else name


def write_evaluation(report: dict, json_path: Path | None, plot_path: Path | None) -> None:
    """The report as JSON and its strength sweep as a PNG (either may be None)."""
    from models.evaluation.stylization_eval import sweep_points
    from models.evaluation.sweep_plot import plot_strength_sweep

    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    if plot_path is not None:
        plot_strength_sweep(sweep_points(report), plot_path)
