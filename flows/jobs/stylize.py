"""The batch stylization job: sources x style -> stylized clip shards, BVH files and previews.

Owns `StylizeJobConfig` and `run_stylize_job(config) -> StylizeSummary`, the plain function
behind `stylemotion stylize` and the `stylize-batch` flow. Styles are labels the run knows or
reference inputs (dataset roots, BVH, videos: a new style from new videos); `parts` overrides
the style per body part. Sources are stylized in batches; each output is a `MotionClip` in the
`stylized` dataset whose provenance (source clip, style reference, strength, steps, seed, run)
is in `source_uri`, plus a BVH file and a side-by-side preview (source | stylized). A source that
fails is recorded in the failures table with its reason and the batch goes on; shards are
written per batch, so finished work survives a later failure.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlencode

from tqdm import tqdm

from extract.mocap.style_vocabulary import load_style_vocabulary
from flows.jobs.stylize_inputs import ClipQuery, StylizeInputError, resolve_motion_input
from models.diffusion.part_compose import compose_unrequested
from models.diffusion.sampling_defaults import CONTENT_PATHS, DEFAULT_CONTENT_PATH, DEFAULT_STRENGTH
from models.diffusion.stylize import (
    MAX_STRENGTH,
    DiffusionStylizer,
    StyleCondition,
    StylizeError,
    part_indices,
)
from models.scene.condition import ALPHA_MAX as MAX_SCENE_WEIGHT
from storage.canonical import root_trajectory
from storage.filesystem import ensure_writable, open_location
from storage.records import FailureRecord, MotionClip, make_clip_id
from storage.shard_writer import ShardPlan, write_shard

logger = logging.getLogger(__name__)

STYLIZED_DATASET = "stylized"
MAX_DDIM_STEPS = 1000  # the training schedule's length (models.diffusion.schedule default)


@dataclass(frozen=True)
class StylizeJobConfig:
    run: str
    sources: tuple[str, ...]
    style: tuple[str, ...]
    out: str
    parts: dict[str, str] = field(default_factory=dict)
    strength: float = DEFAULT_STRENGTH
    steps: int = 20
    source_noise: float = 1.0  # < 1: start sampling from the noised source (SDEdit)
    content_path: str = DEFAULT_CONTENT_PATH  # "generate" the motion or "edit" the source
    seed: int = 0
    batch_size: int = 16
    source_split: str | None = None
    source_content: str | None = None
    source_style: str | None = None
    limit: int | None = None
    write_bvh: bool = True
    write_previews: bool = True
    compose_parts: bool = True  # parts asked in the source's own style stay the source's
    device: str = "cpu"
    scene: str | None = None  # a scene label, image or video (needs scene_run)
    scene_run: str | None = None  # a train-scene-encoder run
    scene_weight: float = 0.5  # alpha in z_cond = z_s + alpha * z_scene
    clip_model: str | None = None  # for scene images/videos when the run does not name one

    def validate(self) -> None:
        """Refuse parameters no clip could be stylized with, before any model or input loads."""
        _require_range("--strength", self.strength, 0.0, MAX_STRENGTH)
        _require_range("--steps", self.steps, 1, MAX_DDIM_STEPS, integer=True)
        _require_range("--source-noise", self.source_noise, 0.0, 1.0, low_open=True)
        _require_range("--scene-weight", self.scene_weight, 0.0, MAX_SCENE_WEIGHT)
        _require_range("batch_size", self.batch_size, 1, 4096, integer=True)
        if self.limit is not None:
            _require_range("--limit", self.limit, 1, 10**9, integer=True)
        if not self.sources or not self.style:
            raise StylizeError("--source and --style each need at least one value")
        if self.content_path not in CONTENT_PATHS:
            raise StylizeError(
                f"--content-path {self.content_path!r}: use one of {', '.join(CONTENT_PATHS)}"
            )


def _require_range(
    name: str,
    value: float,
    low: float,
    high: float,
    integer: bool = False,
    low_open: bool = False,
) -> None:
    kind = "an integer" if integer else "a number"
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value) or (integer and value != int(value)):
        raise StylizeError(f"{name} {value}: must be {kind} in [{low:g}, {high:g}]")
    if value > high or value < low or (low_open and value == low):
        bracket = "(" if low_open else "["
        raise StylizeError(f"{name} {value}: must be {kind} in {bracket}{low:g}, {high:g}]")


@dataclass
class StylizeSummary:
    stylized: int = 0
    failed: int = 0
    shards: list[str] = field(default_factory=list)
    bvh_files: list[str] = field(default_factory=list)
    previews: list[str] = field(default_factory=list)


def _condition(stylizer: DiffusionStylizer, spec: tuple[str, ...], work: Path, name: str):
    if len(spec) == 1:  # a label, by its shared name or any dataset's own (style vocabulary)
        label = load_style_vocabulary().resolve(spec[0].strip().lower())
        if label in stylizer.styles:
            return stylizer.condition_of_label(label)
    try:
        clips = resolve_motion_input(spec, work, name)
    except StylizeInputError as error:
        raise StylizeError(str(error)) from error
    return stylizer.condition_of_clips(clips, name)


def style_condition(stylizer: DiffusionStylizer, config: StylizeJobConfig) -> StyleCondition:
    """The global style, with per-part overrides from `config.parts` (labels or inputs)."""
    work = Path(config.out) / "_inputs"
    base = _condition(stylizer, config.style, work, "style")
    parts = base.parts.clone()
    for part_name, spec in sorted(config.parts.items()):
        other = _condition(stylizer, (spec,), work, f"part-{part_name}")
        for index in part_indices(part_name):
            parts[index] = other.parts[index]
    described = ";".join([base.description, *(f"{k}={v}" for k, v in sorted(config.parts.items()))])
    return StyleCondition(base.style, parts, described)


class SceneFusion:
    """Per-source scene conditions (`--scene`): `z_cond = z_s + alpha * z_scene`."""

    def __init__(self, stylizer: DiffusionStylizer, config: StylizeJobConfig) -> None:
        from models.scene.condition import SceneConditionError, check_alpha, load_scene_run

        if not config.scene_run:
            raise StylizeError(f"--scene {config.scene!r} needs --scene-run (a scene run)")
        try:
            check_alpha(config.scene_weight)
            self.run = load_scene_run(
                config.scene_run, config.device, stylizer.run.encoder_checksum
            )
        except SceneConditionError as error:
            raise StylizeError(str(error)) from error
        self.config = config

    def condition(self, base: StyleCondition, source: MotionClip) -> StyleCondition:
        from flows.jobs.scene_style_inputs import scene_style_vector
        from models.scene.condition import SceneConditionError

        c = self.config
        try:
            vector = scene_style_vector(
                self.run, source.positions, c.scene, c.scene_weight, base.style, c.clip_model
            )
        except SceneConditionError as error:
            raise StylizeError(str(error)) from error
        described = f"{base.description};scene={c.scene}@{c.scene_weight}"
        return replace(base, scene=vector, scene_weight=c.scene_weight, description=described)


def _style_label(config: StylizeJobConfig) -> str:
    return config.style[0] if len(config.style) == 1 else Path(config.style[0]).stem


def stylized_clip(
    source: MotionClip, positions, config: StylizeJobConfig, description: str
) -> MotionClip:
    provenance = urlencode(
        {
            "source": source.clip_id,
            "style": description,
            "strength": config.strength,
            "steps": config.steps,
            "source_noise": config.source_noise,
            "content_path": config.content_path,
            "compose_parts": config.compose_parts,
            "seed": config.seed,
            "run": config.run,
        }
    )
    clip_id = make_clip_id(
        "stylize", source.clip_id, description, config.strength, config.seed, config.run
    )
    return replace(
        source,
        clip_id=clip_id,
        positions=positions,
        confidence=positions[..., 0] * 0 + 1,
        root_trajectory=root_trajectory(positions),
        source_uri=f"stylize:?{provenance}",
        dataset=STYLIZED_DATASET,
        extractor="stylemotion-diffusion",
        extractor_version=Path(config.run).name,
        style=_style_label(config),
    )


def _write_extras(clip: MotionClip, source: MotionClip, out: Path, config, summary) -> None:
    if config.write_bvh:
        from storage.bvh_export import write_clip_bvh

        path = out / "bvh" / f"{clip.clip_id}.bvh"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_clip_bvh(clip, path)
        summary.bvh_files.append(str(path))
    if config.write_previews:
        from extract.rendering.render import SkeletonPanel, render_skeleton_video

        path = out / "previews" / f"{clip.clip_id}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        panels = [
            SkeletonPanel(source.positions, f"source {source.content or ''}"),
            SkeletonPanel(clip.positions, preview_title(clip.style, config)),
        ]
        render_skeleton_video(panels, clip.fps, path)
        summary.previews.append(str(path))


def preview_title(style: str | None, config: StylizeJobConfig) -> str:
    """ "stylized STYLE", with the per-part styles when some were asked, and the strength."""
    parts = ", ".join(f"{part} {name}" for part, name in sorted(config.parts.items()))
    title = f"stylized {style}" + (f" ({parts})" if parts else "")
    return f"{title}, strength {config.strength:g}"


def _composed(source: MotionClip, positions, config: StylizeJobConfig):
    """The output with the parts asked in the source's own style taken from the source."""
    if not config.parts or not config.compose_parts:
        return positions
    global_style = config.style[0] if len(config.style) == 1 else ""
    return compose_unrequested(
        source.positions, source.style, positions, global_style, config.parts
    )


def _failure(source: MotionClip, error: Exception) -> FailureRecord:
    return FailureRecord(
        source_uri=source.source_uri or source.clip_id,
        dataset=STYLIZED_DATASET,
        stage="stylize",
        error_kind=type(error).__name__,
        message=f"source clip {source.clip_id}: {error}",
    )


def _stylize_batch(stylizer, batch, condition, config, out, summary, scene=None):
    clips, failures = [], []
    try:
        conditions = [condition if scene is None else scene.condition(condition, s) for s in batch]
        outputs = stylizer.stylize_positions(
            [s.positions for s in batch], conditions, config.strength, config.seed
        )
    except (ValueError, RuntimeError) as error:  # the batch failed: retry one by one
        if len(batch) == 1:
            return [], [_failure(batch[0], error)]
        for source in batch:
            more = _stylize_batch(stylizer, [source], condition, config, out, summary, scene)
            clips += more[0]
            failures += more[1]
        return clips, failures
    for source, positions in zip(batch, outputs, strict=True):
        try:
            described = condition.description
            if scene is not None:
                described += f";scene={config.scene}@{config.scene_weight}"
            positions = _composed(source, positions, config)
            clip = stylized_clip(source, positions, config, described)
            _write_extras(clip, source, out, config, summary)
            clips.append(clip)
        except (ValueError, RuntimeError, OSError) as error:
            failures.append(_failure(source, error))
    return clips, failures


def run_stylize_job(config: StylizeJobConfig, show_progress: bool = False) -> StylizeSummary:
    config.validate()
    ensure_writable(config.out)
    stylizer = DiffusionStylizer.load(
        config.run, config.device, config.steps, config.source_noise, config.content_path
    )
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    condition = style_condition(stylizer, config)
    scene = SceneFusion(stylizer, config) if config.scene else None
    query = ClipQuery(config.source_split, config.source_style, config.source_content, config.limit)
    try:
        sources = resolve_motion_input(config.sources, out / "_inputs", "source", query)
    except StylizeInputError as error:
        raise StylizeError(str(error)) from error
    location = open_location(str(out / "dataset"))
    summary = StylizeSummary()
    progress = tqdm(total=len(sources), unit="clip", desc="stylize", disable=not show_progress)
    for start in range(0, len(sources), config.batch_size):
        batch = sources[start : start + config.batch_size]
        clips, failures = _stylize_batch(stylizer, batch, condition, config, out, summary, scene)
        ids = tuple(sorted(s.clip_id for s in batch))
        key = make_clip_id(condition.description, config.scene, config.strength, config.seed, *ids)
        plan = ShardPlan(f"stylized-{key}", ids)
        write_shard(location, plan, clips, failures)
        summary.shards.append(plan.shard_id)
        summary.stylized += len(clips)
        summary.failed += len(failures)
        progress.update(len(batch))
    progress.close()
    logger.info("stylized %d clips, %d failed", summary.stylized, summary.failed)
    return summary
