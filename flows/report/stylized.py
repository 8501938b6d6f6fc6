"""The stylize outputs of a report: preview videos with the style and strength each was made with.

Owns `read_stylize_output(input) -> StylizeSection`. `stylemotion stylize --out OUT` writes
`OUT/previews/<clip id>.mp4` (source | stylized), `OUT/bvh/<clip id>.bvh` and the stylized clips
in `OUT/dataset`, whose `source_uri` holds the provenance (`stylize:?source=...&style=...&
strength=...`, `flows.jobs.stylize.stylized_clip`). A preview is matched to its clip by the clip
id; the counts and failure reasons come from `storage.summary.summarise_dataset`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qsl

import pyarrow as pa

from flows.report.inputs import ReportInput
from flows.report.records import Facts, Preview, StylizeSection
from storage.shard_health import DONE_DIR
from storage.shard_reader import ShardReader
from storage.summary import summarise_dataset

logger = logging.getLogger(__name__)

MAX_PREVIEWS = 24  # per stylize output; the section says how many more there are
PROVENANCE_PREFIX = "stylize:?"
# Provenance keys shown under a preview, in this order, with their labels.
SHOWN_SETTINGS = (
    ("style", "style"),
    ("strength", "strength"),
    ("steps", "DDIM steps"),
    ("source_noise", "source noise"),
    ("content_path", "content path"),
    ("seed", "seed"),
    ("run", "diffusion run"),
)
READ_ERRORS = (OSError, ValueError, KeyError, pa.ArrowException)


def parse_provenance(source_uri: str | None) -> dict[str, str]:
    """The settings a stylized clip records in its `source_uri` ({} for any other clip)."""
    if not source_uri or not source_uri.startswith(PROVENANCE_PREFIX):
        return {}
    return dict(parse_qsl(source_uri[len(PROVENANCE_PREFIX) :], keep_blank_values=True))


def _clip_rows(dataset: Path) -> dict[str, dict]:
    """clip id -> label row (content, source_uri, ...) of the output's stylized clips."""
    table = ShardReader(str(dataset)).labels().select(["clip_id", "content", "source_uri"])
    return {row["clip_id"]: row for row in table.to_pylist()}


def preview_facts(row: dict | None) -> Facts:
    """What a preview was made with: source clip and content, then `SHOWN_SETTINGS`."""
    if row is None:
        return (("settings", "not recorded (no stylized clip with this id in the output)"),)
    settings = parse_provenance(row.get("source_uri"))
    facts = [("source clip", settings.get("source", "?"))]
    if row.get("content"):
        facts.append(("content", str(row["content"])))
    facts += [(label, settings[key]) for key, label in SHOWN_SETTINGS if key in settings]
    return tuple(facts)


def common_settings(rows: list[dict], shown: int = 4) -> dict[str, str]:
    """Each provenance setting over the clips: its value, or "several: ..." where they differ."""
    values: dict[str, list[str]] = {}
    for row in rows:
        for key, value in parse_provenance(row.get("source_uri")).items():
            if key != "source" and value not in values.setdefault(key, []):
                values[key].append(value)
    return {
        key: found[0]
        if len(found) == 1
        else f"several: {', '.join(sorted(found)[:shown])}"
        + (", ..." if len(found) > shown else "")
        for key, found in sorted(values.items())
    }


def read_stylize_output(source: ReportInput, notes: list[str]) -> StylizeSection:
    """The previews (at most `MAX_PREVIEWS`), clip and BVH counts and failures of an output."""
    videos = sorted((source.path / "previews").glob("*.mp4"))
    dataset = source.path / "dataset"
    rows: dict[str, dict] = {}
    clips: int | None = None
    failures: dict[str, int] = {}
    if (dataset / DONE_DIR).is_dir():
        try:
            summary = summarise_dataset(ShardReader(str(dataset)))
            clips, failures = summary.clips, summary.failures_by_kind
            rows = _clip_rows(dataset)
        except READ_ERRORS as error:
            notes.append(f"{dataset}: stylized clips not readable ({error})")
    previews = tuple(
        Preview(video, video.stem, preview_facts(rows.get(video.stem)))
        for video in videos[:MAX_PREVIEWS]
    )
    return StylizeSection(
        source=source,
        previews=previews,
        preview_count=len(videos),
        clips=clips,
        bvh_files=len(list((source.path / "bvh").glob("*.bvh"))),
        failures_by_kind=failures,
        settings=common_settings(list(rows.values())),
    )
