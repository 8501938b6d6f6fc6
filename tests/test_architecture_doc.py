"""ARCHITECTURE.md names every module of the repository, or its folder, in one hop.

The "Packages" section is a list of bullets, one per package or wing, each opening with its
folder in backticks (`models/scene/`) and a description. A module is found in one hop when the
document names it by its path (`flows/jobs/stylize.py`) or, in its folder's bullet, by its name
(`stylize.py`), or when its folder has a bullet of its own (whose `__init__` docstring then
says the rest). Every file and folder the document names exists, so a move cannot leave a stale
name behind, and the data-flow picture names every stage from input to report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = REPO_ROOT / "ARCHITECTURE.md"
PACKAGES = ("storage", "extract", "models", "flows")
# The stages of the data-flow picture, by their `stylemotion` subcommand: inputs to clips,
# scene labels, the three trainings, evaluation, the scene encoder and the batch stylize job.
DATA_FLOW_STAGES = (
    "ingest-mocap", "crawl", "label-scenes", "train-encoders", "train-diffusion",
    "train-evaluator", "evaluate", "train-scene-encoder", "evaluate-scene", "stylize",
)  # fmt: skip
BACKTICKED = re.compile(r"`([^`\n]+)`")
BULLET = re.compile(r"^(\s*)- (.*)$")
MIN_DESCRIPTION_WORDS = 3


@dataclass(frozen=True)
class Bullet:
    """One bullet of the Packages section: its folder, its description, the names in it."""

    folder: str
    description: str
    names: frozenset[str]


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _bullets(section: str) -> list[Bullet]:
    texts: list[str] = []
    for line in section.splitlines():
        match = BULLET.match(line)
        if match:
            texts.append(match.group(2))
        elif texts and line.strip():
            texts[-1] += " " + line.strip()
    bullets = []
    for text in texts:
        names = BACKTICKED.findall(text)
        opening = BACKTICKED.match(text)
        assert opening and opening.group(1).endswith("/"), f"bullet without a folder: {text[:60]}"
        description = text[opening.end() :].strip(" —-:")
        bullets.append(Bullet(opening.group(1), description, frozenset(names)))
    return bullets


def _is_file_name(name: str) -> bool:
    return re.fullmatch(r"[\w./-]+\.(py|yaml|md|toml)", name) is not None


def _is_folder_name(name: str) -> bool:
    return re.fullmatch(r"[\w./-]+/", name) is not None


def _modules() -> list[str]:
    return sorted(
        str(path.relative_to(REPO_ROOT))
        for package in PACKAGES
        for path in (REPO_ROOT / package).rglob("*.py")
    )


def _describes(bullet: Bullet | None) -> bool:
    return bullet is not None and len(bullet.description.split()) >= MIN_DESCRIPTION_WORDS


def test_every_module_is_named_or_in_a_described_folder() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    bullets = {bullet.folder: bullet for bullet in _bullets(_section(text, "Packages"))}
    named_anywhere = set(BACKTICKED.findall(text))
    unnamed = []
    for module in _modules():
        folder, name = module.rsplit("/", 1)
        bullet = bullets.get(f"{folder}/")
        named_in_bullet = bullet is not None and name in bullet.names
        if not (module in named_anywhere or named_in_bullet or _describes(bullet)):
            unnamed.append(module)
    assert unnamed == [], "ARCHITECTURE.md names neither these modules nor their folders"


def test_every_folder_of_modules_has_its_bullet() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    bullets = {
        bullet.folder for bullet in _bullets(_section(text, "Packages")) if _describes(bullet)
    }
    folders = {f"{module.rsplit('/', 1)[0]}/" for module in _modules()}
    assert sorted(folders - bullets) == [], "a package or wing without its bullet"


def test_every_name_in_the_document_exists() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    stale = []
    for bullet in _bullets(_section(text, "Packages")):
        for name in bullet.names:
            if not (_is_file_name(name) or _is_folder_name(name)):
                continue
            if not ((REPO_ROOT / bullet.folder / name).exists() or (REPO_ROOT / name).exists()):
                stale.append(f"{name} (under {bullet.folder})")
    stale += [
        name
        for name in set(BACKTICKED.findall(text))
        if "/" in name and _is_file_name(name) and not (REPO_ROOT / name).exists()
    ]
    assert stale == [], "ARCHITECTURE.md names files that are not there"


def test_data_flow_picture_names_every_stage() -> None:
    picture = _section(DOCUMENT.read_text(encoding="utf-8"), "Data flow")
    missing = [s for s in DATA_FLOW_STAGES if not re.search(rf"--{s}(?!\w|-\w)", picture)]
    assert missing == [], "stages missing from the data-flow picture"
