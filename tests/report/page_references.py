"""What a report page references and shows, read with the standard library's HTML parser."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

LINK_ATTRIBUTES = {"a": "href", "img": "src", "video": "src", "source": "src", "link": "href"}


class PageParts(HTMLParser):
    """Every element's references, the section ids, the tags met and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[tuple[str, str]] = []  # (tag, url)
        self.section_ids: list[str] = []
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = dict(attrs)
        if tag in LINK_ATTRIBUTES and values.get(LINK_ATTRIBUTES[tag]):
            self.references.append((tag, str(values[LINK_ATTRIBUTES[tag]])))
        if tag == "section" and values.get("id"):
            self.section_ids.append(str(values["id"]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read_page(index: Path) -> PageParts:
    parts = PageParts()
    parts.feed(index.read_text(encoding="utf-8"))
    return parts


def broken_references(index: Path, parts: PageParts) -> list[str]:
    """References that leave the report folder, name a scheme, or point at no file."""
    folder = index.parent.resolve()
    broken = []
    for tag, url in parts.references:
        if url.startswith("#"):
            continue
        parsed = urlparse(url)
        target = (folder / unquote(parsed.path)).resolve()
        if parsed.scheme or parsed.netloc or not target.is_relative_to(folder):
            broken.append(f"{tag} {url}: not a relative link inside the report")
        elif not target.is_file() or target.stat().st_size == 0:
            broken.append(f"{tag} {url}: no such file")
    return broken
