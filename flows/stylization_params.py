"""The parameters of the `stylize-stages` flow: everything after the encoders, as library configs.

`StylizationStagesConfig` bundles the stage configs the library already has (`TrainVAEConfig`,
`TrainDiffusionConfig`, `TrainEvaluatorConfig`, `StylizeJobConfig`, `EvaluateConfig`) with the
adaptor's schedule and where the report goes. The `pipeline` flow runs it after training the
encoders (`PipelineConfig.stylization`); `flows.sample_config` fills it for `make demo`.
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.jobs.evaluate import EvaluateConfig
from flows.jobs.stylize import StylizeJobConfig
from models.diffusion.train import TrainDiffusionConfig
from models.diffusion.train_vae import TrainVAEConfig
from models.evaluation.train_evaluator import TrainEvaluatorConfig


@dataclass(frozen=True)
class StylizationStagesConfig:
    """VAE (latent mode, optional) -> diffusion base -> adaptor -> frozen evaluator ->
    stylize jobs -> evaluation against the baselines -> report.

    `diffusion` is the base stage (its `encoder_run` the pipeline's encoder run); the adaptor
    trains `adaptor_steps` steps on top of it into `adaptor_out`, and every stylize job and the
    evaluation use that adaptor run. A stage whose outputs are recorded as done with the same
    parameters is skipped on a re-run.
    """

    diffusion: TrainDiffusionConfig
    adaptor_out: str
    adaptor_steps: int = 300
    adaptor_source_control: bool = True  # the ControlNet-like branch over the source (issue 17)
    vae: TrainVAEConfig | None = None
    evaluator: TrainEvaluatorConfig | None = None
    jobs: tuple[StylizeJobConfig, ...] = ()
    evaluation: EvaluateConfig | None = None
    report_dir: str | None = None
