"""The parameters of `pipeline`: the stage configs of the library, bundled with the routing.

Each stage keeps its own frozen config dataclass (`MocapIngestConfig`, `CrawlExtractConfig`,
`TrainEncodersConfig`); `PipelineConfig` adds only the shared root, the scene-label switch and
how training is started. `prefect.yaml` writes it as a nested mapping with the same names.
"""

from __future__ import annotations

from dataclasses import dataclass

from extract.mocap.ingest import MocapIngestConfig
from flows.crawl_params import CrawlExtractConfig
from flows.stylization_params import StylizationStagesConfig
from models.encoders.train_config import TrainEncodersConfig

TRAINING_MODES = ("auto", "deployment", "in-process")


@dataclass(frozen=True)
class PipelineConfig:
    """`pipeline`: ingest (mocap sets and/or videos) -> label scenes -> train -> evaluate.

    Every stage works on `root`; the stage configs must name the same root. Scene labels need
    CLIP weights: the step runs when `label_scenes` is on and a model is set (`scene_model`,
    else `$STYLEMOTION_SCENE_MODEL`), and is reported as skipped otherwise. Training runs
    through the deployment `train_deployment` when a Prefect server has it and its work pool has
    a worker (`training_mode` `auto`), always through it (`deployment`), or as a subflow in this
    process (`in-process`).
    """

    root: str
    mocap: tuple[MocapIngestConfig, ...] = ()  # one per mocap dataset, all into `root`
    videos: CrawlExtractConfig | None = None
    label_scenes: bool = True
    scene_model: str | None = None
    train: TrainEncodersConfig | None = None
    evaluate: bool = True
    training_mode: str = "auto"
    train_deployment: str = "train-encoders/sample-cpu"
    training_timeout_s: float = 6 * 3600.0
    preview_dir: str | None = None
    stylization: StylizationStagesConfig | None = None  # after training: flows.stylization_flows
