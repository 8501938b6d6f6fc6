"""HTML pieces of the report page: every text escaped, every file referenced by a relative link.

Owns the small builders the sections share (`text`, `facts_list`, `figure`,
`video`, `missing`, `section`) and the page shell (`page_shell`: one inline style sheet, no
script, no external reference). Each builder escapes what it is given (`html.escape`, quotes
included) so a style name, a clip id or a path can never become markup. An asset is referenced
through `Href`, which gives the report-relative URL of a copied file, or None when it could not
be copied: then the page says so instead of holding a broken reference.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from pathlib import Path

from flows.report.records import Facts

Href = Callable[[Path], str | None]
MISSING = "not in these runs"

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1280px; padding: 1em 2em;
       color: #222; background: #fafaf8; }
h1 { margin-bottom: 0.1em; } h2 { border-bottom: 2px solid #ccc; margin-top: 2em; }
nav a { margin-right: 1em; } .missing { color: #777; font-style: italic; }
.previews { display: flex; flex-wrap: wrap; gap: 1.5em; }
.preview { background: #fff; border: 1px solid #ddd; padding: 0.6em; max-width: 660px; }
video, img { max-width: 100%; height: auto; display: block; }
figure { margin: 1em 0; background: #fff; border: 1px solid #ddd; padding: 0.6em;
         display: inline-block; max-width: 100%; vertical-align: top; }
figcaption, .path { color: #555; font-size: 0.9em; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #eee; }
tr.real td { background: #fde9e7; font-weight: bold; } tr.model td { background: #e8f0fc; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1em; margin: 0.5em 0; }
dt { color: #555; } dd { margin: 0; overflow-wrap: anywhere; }
pre { background: #f1f1ee; padding: 0.6em; overflow: auto; max-height: 28em; font-size: 0.85em; }
code { overflow-wrap: anywhere; } .wide { overflow-x: auto; max-width: 100%; }
.card { border-left: 4px solid #bbb; padding-left: 1em; }
"""


def text(value: object) -> str:
    """`value` as escaped HTML text (quotes too, so it is safe in an attribute)."""
    return html.escape(str(value), quote=True)


def facts_list(facts: Facts) -> str:
    if not facts:
        return ""
    items = "".join(f"<dt>{text(name)}</dt><dd>{text(value)}</dd>" for name, value in facts)
    return f"<dl>{items}</dl>"


def missing(what: str = MISSING) -> str:
    return f'<p class="missing">{text(what)}</p>'


def not_copied(path: Path) -> str:
    return missing(f"{path.name}: could not be copied into the report")


def figure(image: Path, caption: str, href: Href) -> str:
    url = href(image)
    if url is None:
        return not_copied(image)
    return (
        f'<figure><img src="{text(url)}" alt="{text(caption)}">'
        f"<figcaption>{text(caption)}</figcaption></figure>"
    )


def video(path: Path, label: str, href: Href) -> str:
    """A muted, controllable preview video, with a plain link to the file beside it."""
    url = href(path)
    if url is None:
        return not_copied(path)
    return (
        f'<video controls muted preload="metadata" playsinline src="{text(url)}" '
        f'title="{text(label)}"></video>'
        f'<p class="path"><a href="{text(url)}">{text(path.name)}</a></p>'
    )


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{text(anchor)}"><h2>{text(title)}</h2>\n{body}\n</section>'


def table(header: Iterable[str], rows: Iterable[tuple[str, Iterable[str]]]) -> str:
    """A table of already-escaped cells; each row is (CSS class, cells)."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join(
        f'<tr class="{text(kind)}">' + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"
        for kind, cells in rows
    )
    inner = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="wide">{inner}</div>'


def page_shell(title: str, subtitle: str, nav: Iterable[tuple[str, str]], body: str) -> str:
    links = "".join(f'<a href="#{text(anchor)}">{text(name)}</a>' for anchor, name in nav)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{text(title)}</title>\n<style>{STYLE}</style></head>\n"
        f'<body><header><h1>{text(title)}</h1><p class="path">{text(subtitle)}</p>'
        f"<nav>{links}</nav></header>\n{body}\n</body></html>\n"
    )
