"""The styles file: parsing into typed sources, folder expansion, and errors naming file and key."""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path

import pytest

from extract.crawl.sources import (
    LocalSource,
    QuerySource,
    SourcesError,
    UrlSource,
    is_search_site,
    load_styles_file,
    read_styles_file,
)
from storage.errors import UserInputError


def write_styles(folder: Path, text: str) -> Path:
    path = folder / "styles.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def clips_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "angry_clips"
    (folder / "nested").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    for name in ("b.mp4", "a.MOV", "nested/c.webm", "notes.txt", ".hidden/d.mp4", "cover.jpg"):
        (folder / name).write_bytes(b"x")
    return folder


def test_full_example_becomes_typed_sources(tmp_path: Path, clips_folder: Path) -> None:
    path = write_styles(
        tmp_path,
        """
defaults: {limit: 20, site: ytsearch, max_duration_s: 300, max_height: 480}
styles:
  angry:
    queries: ["angry walk", {query: "情绪表演 愤怒", limit: 5, site: bilisearch}]
    urls: ["https://example.com/a.mp4"]
    local: ["angry_clips/"]
  sad:
    queries: "sad walk"
""",
    )
    styles = read_styles_file(path)
    assert styles.max_duration_s == 300
    assert styles.max_height == 480
    assert list(styles.sources) == [
        QuerySource("angry", "angry walk", 20, "ytsearch"),
        QuerySource("angry", "情绪表演 愤怒", 5, "bilisearch"),
        UrlSource("angry", "https://example.com/a.mp4"),
        LocalSource("angry", clips_folder.resolve()),
        QuerySource("sad", "sad walk", 20, "ytsearch"),
    ]
    assert styles.sources[1].search_string == "bilisearch5:情绪表演 愤怒"
    assert load_styles_file(path) == list(styles.sources)


def test_defaults_apply_when_absent(tmp_path: Path) -> None:
    path = write_styles(tmp_path, "styles:\n  happy:\n    queries: [happy dance]\n")
    [source] = load_styles_file(path)
    assert source.search_string == "ytsearch20:happy dance"
    assert read_styles_file(path).max_duration_s is None


def test_local_folder_expands_to_sorted_video_files(clips_folder: Path) -> None:
    files = LocalSource("angry", clips_folder).video_files()
    assert [f.relative_to(clips_folder).as_posix() for f in files] == [
        "a.MOV",
        "b.mp4",
        "nested/c.webm",
    ]
    single = LocalSource("angry", clips_folder / "notes.txt").video_files()
    assert single == [clips_folder / "notes.txt"]  # a file named explicitly is taken as is


@pytest.mark.parametrize("site", ["ytsearch", "bilisearch", "nicosearch", "scsearch"])
def test_known_search_sites(site: str) -> None:
    assert is_search_site(site)


@pytest.mark.parametrize("site", ["foosearch", "youtube", "yt search", ""])
def test_unknown_search_sites(site: str) -> None:
    assert not is_search_site(site)


BAD_FILES = [
    ("styles: [unclosed", "not valid YAML"),
    ("- just\n- a list\n", "(top level): expected a mapping"),
    ("style: {}\n", "(top level).style: unknown key"),
    ("defaults: {limit: 3}\n", "styles: missing or empty"),
    ("styles: {}\n", "styles: missing or empty"),
    ("styles:\n  angry:\n", "styles.angry: empty style"),
    ("styles:\n  angry: {queries: []}\n", "styles.angry.queries: expected a non-empty list"),
    ("styles:\n  angry: {querys: [x]}\n", "styles.angry.querys: unknown key"),
    ("styles:\n  angry: {queries: [{query: x, limt: 3}]}\n", "queries[0].limt: unknown key"),
    ("styles:\n  angry: {queries: [{query: x, limit: 0}]}\n", "queries[0].limit: limit must"),
    ("styles:\n  angry: {queries: [{query: x, limit: -2}]}\n", "queries[0].limit: limit must"),
    ("styles:\n  angry: {queries: [{query: x, limit: five}]}\n", "queries[0].limit"),
    ("styles:\n  angry: {queries: [{query: x, limit: true}]}\n", "queries[0].limit"),
    ("defaults: {limit: 0}\nstyles:\n  a: {queries: [x]}\n", "defaults.limit: limit must"),
    ("styles:\n  angry: {queries: [{query: '  '}]}\n", "queries[0].query: a query must"),
    ("styles:\n  angry: {queries: [{query: x, site: foosearch}]}\n", "queries[0].site"),
    ("defaults: {site: youtube}\nstyles:\n  a: {queries: [x]}\n", "defaults.site"),
    ("defaults: {max_height: -1}\nstyles:\n  a: {queries: [x]}\n", "defaults.max_height"),
    ("defaults: {colour: red}\nstyles:\n  a: {queries: [x]}\n", "defaults.colour: unknown"),
    ("styles:\n  angry: {urls: [example.com/a.mp4]}\n", "styles.angry.urls[0]: expected a URL"),
    ("styles:\n  angry: {local: [does/not/exist]}\n", "styles.angry.local[0]:"),
    ("styles:\n  3: {queries: [x]}\n", "styles.3: a style name must be"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_bad_files_name_the_file_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write_styles(tmp_path, text)
    with pytest.raises(SourcesError) as caught:
        load_styles_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert expected in message


def test_missing_file_is_a_sources_error(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="cannot read the styles file"):
        load_styles_file(tmp_path / "absent.yaml")


def test_query_source_checks_its_limit() -> None:
    with pytest.raises(SourcesError, match="limit must be an integer > 0"):
        QuerySource("angry", "angry walk", 0)


def test_the_shipped_example_styles_file_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "styles.yaml"
    sources = load_styles_file(example)
    assert {source.style for source in sources} == {"angry", "happy", "tired", "old"}
    assert any(getattr(source, "site", "") == "bilisearch" for source in sources)


def _billion_laughs(levels: int = 9) -> tuple[str, str]:
    """`levels` anchors, each a list of nine aliases of the one before: 9**levels strings."""
    names = "abcdefghijklmnopqrstuvwxyz"[: levels + 1]
    lines = [f"{names[0]}: &{names[0]} [{', '.join(['lol'] * 9)}]"]
    lines += [f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in pairwise(names)]
    return "\n".join(lines) + "\n", names[-1]


@pytest.mark.parametrize(
    "template",
    [
        "styles:\n  angry: {{urls: [*{top}]}}\n",
        "defaults: {{limit: *{top}}}\nstyles:\n  angry: {{queries: [walk]}}\n",
        "styles:\n  angry: {{queries: [{{query: walk, site: *{top}}}]}}\n",
        "styles:\n  angry: *{top}\n",
    ],
)
def test_alias_bomb_is_refused_quickly_with_a_short_message(tmp_path: Path, template: str) -> None:
    bomb, top = _billion_laughs()
    path = write_styles(tmp_path, bomb + template.format(top=top))
    started = time.monotonic()
    with pytest.raises(SourcesError, match="aliases") as caught:
        load_styles_file(path)
    assert time.monotonic() - started < 2.0
    assert str(path) in str(caught.value) and len(str(caught.value)) < 500
    assert isinstance(caught.value, UserInputError)


def test_a_single_alias_is_refused_too(tmp_path: Path) -> None:
    path = write_styles(
        tmp_path, "defaults: {limit: &n 3}\nstyles:\n  a: {queries: [{query: x, limit: *n}]}\n"
    )
    with pytest.raises(SourcesError, match=r"line 3, column \d+: YAML aliases"):
        load_styles_file(path)


def test_oversized_and_deeply_nested_files_are_refused(tmp_path: Path) -> None:
    path = write_styles(tmp_path, "# padding\n" * 200_000)
    with pytest.raises(SourcesError, match="larger than 1000000 bytes"):
        load_styles_file(path)
    path = write_styles(tmp_path, "[" * 100_000)
    with pytest.raises(SourcesError, match="nested too deeply|not valid YAML"):
        load_styles_file(path)


def test_long_values_are_cut_in_messages(tmp_path: Path) -> None:
    huge = "x" * 500_000
    for text in (
        f"styles:\n  angry: {{urls: [{huge}]}}\n",
        f"styles:\n  angry: {{queries: [{{query: walk, site: {huge}}}]}}\n",
        f"defaults: {{max_height: '{huge}'}}\nstyles:\n  a: {{queries: [x]}}\n",
        f"styles:\n  angry: {{local: [{huge}]}}\n",
    ):
        with pytest.raises(SourcesError) as caught:
            load_styles_file(write_styles(tmp_path, text))
        assert len(str(caught.value)) < 600, str(caught.value)[:200]
    with pytest.raises(SourcesError) as caught:
        QuerySource("angry", huge, 0)
    assert len(str(caught.value)) < 200


def test_symlink_loop_in_local_is_a_sources_error(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    path = write_styles(tmp_path, "styles:\n  angry: {local: [loop]}\n")
    with pytest.raises(SourcesError, match=r"styles.angry.local\[0\]: .*loop"):
        load_styles_file(path)
