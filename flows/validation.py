"""Checks of flow parameters at the flow boundary, before any work starts.

Prefect checks types when a run is created; these checks say what types cannot: a data
directory that is missing, a styles file that does not exist or breaks the format, a negative
limit, stage roots that disagree. Each failure is a `ParameterError` whose message names the
parameter path (e.g. `config.mocap.src_dir`) and the reason, which is what the run log and the
UI show as the run's failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from extract.crawl.sources import LocalSource, Source, SourcesError, UrlSource, read_styles_file
from extract.mocap.ingest import MocapIngestConfig
from flows.crawl_params import CrawlExtractConfig
from storage.errors import UserInputError
from storage.filesystem import ensure_writable
from storage.shard_reader import ShardReader

if TYPE_CHECKING:  # torch stays out of the crawl and ingest flows' imports
    from models.encoders.train_config import TrainEncodersConfig


class ParameterError(UserInputError, ValueError):
    """A flow parameter that stops the run; the message names the parameter and the reason."""


def require(condition: bool, where: str, reason: str) -> None:
    if not condition:
        raise ParameterError(f"{where}: {reason}")


def require_positive(values: dict[str, float | int], where: str, minimum: float = 1) -> None:
    for name, value in values.items():
        require(value >= minimum, f"{where}.{name}", f"must be >= {minimum}, got {value}")


def check_mocap(config: MocapIngestConfig, where: str = "config") -> None:
    try:
        config.validate()
        ensure_writable(config.out_root)
    except UserInputError as error:
        raise ParameterError(f"{where}: {error}") from error


def _input_sources(config: CrawlExtractConfig, where: str) -> list[Source]:
    if not config.inputs:
        return []
    require(bool(config.style and config.style.strip()), f"{where}.style", "name the style")
    sources: list[Source] = []
    for index, text in enumerate(config.inputs):
        if "://" in text:
            sources.append(UrlSource(config.style, text))
            continue
        path = Path(text).expanduser()
        require(path.exists(), f"{where}.inputs[{index}]", f"{path} does not exist")
        sources.append(LocalSource(config.style, path.resolve()))
    return sources


def check_crawl_extract(config: CrawlExtractConfig, where: str = "config") -> list[Source]:
    """The sources to crawl (styles file first, then inputs), or a `ParameterError`."""
    require(
        config.crawl.out_root == config.extract.root,
        f"{where}.extract.root",
        f"must equal {where}.crawl.out_root ({config.crawl.out_root!r})",
    )
    require_positive(
        {"max_parallel_downloads": config.max_parallel_downloads},
        where,
    )
    extract = config.extract
    require_positive(
        {"videos_per_shard": extract.videos_per_shard, "workers": extract.workers},
        f"{where}.extract",
    )
    sources: list[Source] = []
    if config.styles_file:
        try:
            sources.extend(read_styles_file(config.styles_file).sources)
        except SourcesError as error:
            raise ParameterError(f"{where}.styles_file: {error}") from error
    sources.extend(_input_sources(config, where))
    require(bool(sources), where, "nothing to crawl: give styles_file and/or inputs")
    return sources


def check_training(
    config: TrainEncodersConfig, where: str = "config", require_data: bool = True
) -> None:
    """A `TrainEncodersConfig` whose limits are positive and whose data root has shards."""
    require_positive(
        {
            "steps": config.steps,
            "styles_per_batch": config.styles_per_batch,
            "windows_per_style": config.windows_per_style,
            "checkpoint_every": config.checkpoint_every,
            "log_every": config.log_every,
        },
        where,
    )
    require(config.learning_rate > 0, f"{where}.learning_rate", "must be > 0")
    require(config.warmup_steps >= 0, f"{where}.warmup_steps", "must be >= 0")
    if require_data:
        has_shards = bool(ShardReader(config.data_root).shard_ids())
        require(has_shards, f"{where}.data_root", f"{config.data_root} holds no finished shards")
