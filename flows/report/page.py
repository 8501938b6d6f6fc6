"""The report page: one section per part of the main job, drawn from a `ReportContent`.

Owns `render_page(content, href, title, subtitle) -> str` and its sections, in the order a
reader follows the job: the inputs and their kinds, stylized motion (side-by-side previews with
the style and strength used), the evaluation table beside the baselines and the real data, the
strength sweep, the encoders' style embeddings, the dataset summary, each run's config and
checkpoint checksums, and what could not be read. A section with nothing in these inputs says
"not in these runs". Markup helpers and escaping: `flows.report.markup`.
"""

from __future__ import annotations

from flows.report.evaluation import row_kind
from flows.report.markup import (
    MISSING,
    Href,
    facts_list,
    figure,
    missing,
    page_shell,
    section,
    table,
    text,
    video,
)
from flows.report.records import (
    DatasetSection,
    EvaluationTable,
    ReportContent,
    RunCard,
    StylizeSection,
)

SECTIONS = (
    ("inputs", "Inputs"),
    ("stylized", "Stylized motion"),
    ("evaluation", "Evaluation"),
    ("sweep", "Strength sweep"),
    ("embeddings", "Encoder style embeddings"),
    ("dataset", "Dataset"),
    ("runs", "Runs: config and checksums"),
    ("notes", "Not readable"),
)


def _inputs(content: ReportContent) -> str:
    rows = [
        ("", (text(item.name), text(item.kind.value), f"<code>{text(item.path)}</code>"))
        for item in content.inputs
    ]
    return table(("input", "kind", "path"), rows) if rows else missing("no inputs")


def _stylized(part: StylizeSection, href: Href) -> str:
    more = part.preview_count - len(part.previews)
    head = facts_list(
        (
            ("stylized clips", "?" if part.clips is None else str(part.clips)),
            ("failed sources", _pairs(part.failures_by_kind)),
            ("BVH files", f"{part.bvh_files} (in bvh/ of the output)"),
        )
    )
    cards = "".join(
        f'<div class="preview"><h4>source | stylized</h4>{video(p.video, p.clip_id, href)}'
        f"{facts_list(p.facts)}</div>"
        for p in part.previews
    )
    body = f'<div class="previews">{cards}</div>' if cards else missing("no preview videos")
    note = f"<p>{more} more preview(s) in {text(part.source.path / 'previews')}</p>" if more else ""
    return f"<h3>{text(part.source.name)}</h3>{head}{body}{note}"


def _number(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1e4 else f"{value:.4g}"
    return text(value)


def _evaluation(part: EvaluationTable) -> str:
    header = [text(column) for column in part.columns]
    rows = []
    for row in part.rows:
        stylizer = str(row.get("stylizer", "?"))
        strength = row.get("strength")
        shown = f"{strength:g}" if isinstance(strength, int | float) else strength
        cells = [text(stylizer), "–" if strength is None else text(shown)]
        cells += [_number(row.get(column)) for column in part.columns[2:]]
        rows.append((row_kind(stylizer), cells))
    title = part.source.name
    if part.source.path.is_dir():
        title += f": {part.report_file.name}"
    legend = '<p class="path">blue rows: model runs; red: the real data; others: baselines</p>'
    return f"<h3>{text(title)}</h3>{facts_list(part.facts)}{table(header, rows)}{legend}"


def _dataset(part: DatasetSection) -> str:
    data = part.summary
    numbers = (data.shards, data.clips, data.frames, f"{data.minutes:.2f}", data.failures)
    header = ("shards", "clips", "frames", "minutes", "failures")
    totals = table(header, [("", tuple(text(n) for n in numbers))])
    facts = [
        (f"styles ({len(data.styles)})", _pairs(data.styles)),
        (f"contents ({len(data.contents)})", _pairs(data.contents)),
        ("datasets", _pairs(data.datasets)),
        ("splits", _pairs(data.splits)),
        ("failures by reason", _pairs(data.failures_by_kind)),
    ]
    videos = part.videos
    if videos is None:
        facts.append(("videos", "none in this dataset (motion capture only)"))
    else:
        facts += [
            ("videos", f"{videos.videos} seen, {videos.videos_ok} ok"),
            ("videos failed (crawl)", _pairs(videos.videos_failed_by_kind)),
            ("videos failed (pose)", _pairs(videos.pose_failed_by_kind)),
            ("segments dropped", _pairs(videos.segments_dropped_by_kind)),
            ("video clips", f"{videos.clips} ({videos.clip_minutes} min, {videos.tracks} tracks)"),
        ]
    facts += [(f"scenes ({s.labeller_id})", _pairs(s.labels)) for s in part.scenes]
    facts += [("damaged shard", problem) for problem in data.damaged_shards]
    facts += [
        (f"settings of {count} shard(s)", s) for s, count in (data.shard_settings or {}).items()
    ]
    return f"<h3>{text(part.source.name)}</h3>{totals}{facts_list(tuple(facts))}"


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items()) or "none"


def _run(card: RunCard) -> str:
    rows = [
        ("", (text(c.file), f"<code>{text(c.sha256)}</code>", text(c.note))) for c in card.checksums
    ]
    header = ("checkpoint", "sha256", "note")
    checks = table(header, rows) if rows else missing("no checkpoint in this input")
    config = (
        f"<details><summary>config</summary><pre>{text(card.config_json)}</pre></details>"
        if card.config_json
        else missing("no config recorded")
    )
    kind, path = text(card.source.kind.value), text(card.source.path)
    where = f'<p class="path">{kind}: <code>{path}</code></p>'
    return (
        f'<div class="card"><h3>{text(card.source.name)}</h3>{where}{checks}'
        f"{facts_list(card.metrics)}{config}</div>"
    )


def render_page(content: ReportContent, href: Href, title: str, subtitle: str) -> str:
    """The whole page as one HTML string; `href` gives the relative URL of each copied file."""
    bodies = {
        "inputs": _inputs(content),
        "stylized": "".join(_stylized(part, href) for part in content.stylized),
        "evaluation": "".join(_evaluation(part) for part in content.evaluations),
        "sweep": "".join(figure(f.image, f.caption, href) for f in content.sweeps),
        "embeddings": "".join(figure(f.image, f.caption, href) for f in content.embeddings),
        "dataset": "".join(_dataset(part) for part in content.datasets),
        "runs": "".join(_run(card) for card in content.runs),
        "notes": "".join(f"<p>{text(note)}</p>" for note in content.notes)
        or missing("nothing: every part of these runs was read"),
    }
    parts = [section(a, name, bodies[a] or missing(MISSING)) for a, name in SECTIONS]
    return page_shell(title, subtitle, SECTIONS, "\n".join(parts))
