"""Per-run Prefect artifacts: what a run made, what failed and why, a preview, metrics.

Everything here reads small things (label columns, failure rows, done-markers, a run's JSON
lines) and publishes them: a markdown dataset summary (videos ok / failed by reason, clips,
minutes, styles, scenes), failure tables (per item from the failures table, per shard from
tasks that kept failing), a skeleton preview video of one clip (a link artifact to the file),
and training metrics and evaluation tables. Keys are kebab-case so the UI lists them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from extract.rendering.render import SkeletonPanel, render_skeleton_video
from flows.report.build import INDEX_NAME, write_report
from storage.errors import UserInputError
from storage.scene_summary import summarise_scenes
from storage.schema import VIDEOS_TABLE
from storage.shard_reader import ClipFilter, ShardReader
from storage.summary import summarise_dataset, summarise_videos

logger = logging.getLogger(__name__)

MAX_TABLE_ROWS = 100
MAX_MESSAGE_CHARS = 300


def _count_lines(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items()) or "none"


def dataset_markdown(root: str, title: str) -> str:
    """The summary of a dataset root as markdown (empty root: says so)."""
    reader = ShardReader(root)
    if not reader.shard_ids():
        return f"## {title}\n\n`{root}` holds no finished shards yet."
    data, videos = summarise_dataset(reader), summarise_videos(reader)
    scenes = summarise_scenes(reader)
    lines = [
        f"## {title}",
        "",
        f"Dataset root: `{data.root}`",
        "",
        "| shards | clips | frames | minutes | failures |",
        "|---|---|---|---|---|",
        f"| {data.shards} | {data.clips} | {data.frames} | {data.minutes:.2f} | {data.failures} |",
        "",
        f"- **videos**: {videos.videos} seen, {videos.videos_ok} ok; "
        f"failed in crawl: {_count_lines(videos.videos_failed_by_kind)}; "
        f"failed in pose: {_count_lines(videos.pose_failed_by_kind)}",
        f"- **video clips**: {videos.clips} ({videos.clip_minutes} min from "
        f"{videos.tracks} pose tracks); segments dropped: "
        f"{_count_lines(videos.segments_dropped_by_kind)}",
        f"- **styles** ({len(data.styles)}): {_count_lines(data.styles)}",
        f"- **datasets**: {_count_lines(data.datasets)}; **splits**: {_count_lines(data.splits)}",
        f"- **failures by kind**: {_count_lines(data.failures_by_kind)}",
    ]
    for summary in scenes:
        lines.append(f"- **scenes** ({summary.labeller_id}): {_count_lines(summary.labels)}")
    if not scenes:
        lines.append("- **scenes**: not labelled")
    return "\n".join(lines)


def publish_dataset_summary(root: str, title: str, key: str) -> str:
    markdown = dataset_markdown(root, title)
    create_markdown_artifact(markdown, key=key, description=f"{title}: dataset summary")
    return markdown


def _crawl_failure_rows(reader: ShardReader) -> list[dict]:
    if not reader.shard_ids(VIDEOS_TABLE):
        return []
    columns = ["status", "error_kind", "source_url", "error_message"]
    rows = reader.dataset(VIDEOS_TABLE).to_table(columns=columns).to_pylist()
    return [
        {
            "stage": "crawl",
            "reason": row["error_kind"],
            "source": row["source_url"],
            "message": (row["error_message"] or "")[:MAX_MESSAGE_CHARS],
        }
        for row in rows
        if row["status"] != "ok"
    ]


def publish_item_failures(root: str, key: str, stages: tuple[str, ...] | None = None) -> int:
    """A table of the per-item failures (crawl rows and recorded failures of `stages`, or all);
    returns their number."""
    reader = ShardReader(root)
    rows = _crawl_failure_rows(reader) if stages is None or "crawl" in stages else []
    rows += [
        {
            "stage": failure.stage,
            "reason": failure.error_kind,
            "source": failure.source_uri,
            "message": failure.message[:MAX_MESSAGE_CHARS],
        }
        for failure in reader.failures()
        if stages is None or failure.stage in stages
    ]
    if rows:
        note = f" (first {MAX_TABLE_ROWS} of {len(rows)})" if len(rows) > MAX_TABLE_ROWS else ""
        create_table_artifact(rows[:MAX_TABLE_ROWS], key=key, description=f"failed items{note}")
    return len(rows)


def publish_shard_failures(failed: dict[str, str], key: str) -> None:
    """A table of the shards whose task kept failing after its retries, with the reason."""
    if failed:
        rows = [
            {"shard": shard, "reason": reason[:MAX_MESSAGE_CHARS]}
            for shard, reason in failed.items()
        ]
        create_table_artifact(rows, key=key, description="shards that failed after retries")


def render_preview(root: str, preview_dir: str, where: ClipFilter | None = None) -> Path | None:
    """A skeleton video of the first clip (that matches `where`) under `preview_dir`."""
    clip = next(ShardReader(root).iter_clips(where, batch_size=1), None)
    if clip is None:
        return None
    title = " / ".join(str(x) for x in (clip.dataset, clip.style, clip.content) if x)
    out = Path(preview_dir) / f"preview-{clip.clip_id.replace('/', '_')[:80]}.mp4"
    out.parent.mkdir(parents=True, exist_ok=True)
    render_skeleton_video([SkeletonPanel(clip.positions, title)], clip.fps, out)
    return out


def publish_preview(
    root: str, preview_dir: str | None, key: str, where: ClipFilter | None = None
) -> str:
    """Render a preview and link it; a failing render is logged, never fails the run."""
    if not preview_dir:
        return ""
    try:
        path = render_preview(root, preview_dir, where)
    except (OSError, ValueError, RuntimeError) as error:
        logger.warning("preview render failed: %s", error)
        return ""
    if path is None:
        return ""
    uri = path.resolve().as_uri()
    create_link_artifact(uri, link_text=path.name, key=key, description="skeleton preview video")
    return str(path)


def read_metrics(run_dir: str) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def publish_training_metrics(run_dir: str, key: str, rows: int = 20) -> list[dict]:
    """The logged training steps (evenly thinned to about `rows`) as a table artifact."""
    metrics = read_metrics(run_dir)
    if metrics:
        stride = max(1, len(metrics) // rows)
        chosen = metrics[::stride]
        if chosen[-1] is not metrics[-1]:
            chosen.append(metrics[-1])
        create_table_artifact(chosen, key=key, description=f"training metrics of {run_dir}")
    return metrics


def publish_evaluation(report: dict, key: str) -> None:
    """The evaluation report's scalar metrics (and per-part ones) as a metric/value table."""
    rows = []
    for name, value in report.items():
        if isinstance(value, int | float | str) and name not in ("run", "data_root", "plot"):
            rows.append({"metric": name, "value": value})
        elif isinstance(value, dict) and all(isinstance(v, int | float) for v in value.values()):
            rows.extend({"metric": f"{name}.{k}", "value": v} for k, v in value.items())
    create_table_artifact(rows, key=key, description=f"evaluation of {report.get('run')}")


def publish_report_link(report: str | Path, key: str = "report") -> str:
    """A link artifact to a written report page (`DIR` or `DIR/index.html`) as a file:// URI,
    which opens from disk with no server; returns the URI."""
    path = Path(report)
    if path.is_dir():
        path = path / INDEX_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no report page here (write it with write_report first)")
    uri = path.resolve().as_uri()
    create_link_artifact(
        uri,
        link_text=f"{path.parent.name}/{path.name}",
        key=key,
        description="static HTML report of the run (previews, evaluation, dataset, checksums)",
    )
    return uri


def publish_report(
    root: str, runs: Sequence[str], out_dir: str | None = None, key: str = "report"
) -> str:
    """Write the static report of `runs` (`flows.report.build.write_report`; default folder
    `ROOT/report`) and link it; a report that cannot be written is logged, never fails the run.
    Returns the page's path, or "" when none was written."""
    try:
        result = write_report(root, runs, out_dir)
    except (UserInputError, OSError, ValueError) as error:
        logger.warning("report not written: %s", error)
        return ""
    for note in result.notes:
        logger.warning("report: %s", note)
    publish_report_link(result.index, key)
    return str(result.index)
