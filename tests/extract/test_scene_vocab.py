"""Scene vocabulary: the default, file loading, and refusing entries that would split a label."""

from __future__ import annotations

from pathlib import Path

import pytest

from extract.scene_labels.label_config import SceneConfigError, SceneLabelConfig
from extract.scene_labels.vocab import (
    DEFAULT_SCENES,
    SceneVocabulary,
    VocabularyError,
    load_vocabulary,
)


def test_default_vocabulary_is_about_twenty_distinct_scenes() -> None:
    vocabulary = SceneVocabulary()
    assert 18 <= len(vocabulary.scenes) <= 24 and vocabulary.scenes == DEFAULT_SCENES
    assert {"street", "park", "office", "stage", "gym", "beach", "snow"} <= set(DEFAULT_SCENES)
    assert vocabulary.prompts("park")[0] == "a photo of a park."


def test_text_and_yaml_files_load(tmp_path: Path) -> None:
    text = tmp_path / "scenes.txt"
    text.write_text("# where people dance\nballroom\n\n  night   club \nrooftop # open air\n")
    assert load_vocabulary(text).scenes == ("ballroom", "night club", "rooftop")
    yaml_file = tmp_path / "scenes.yaml"
    yaml_file.write_text("scenes: [ballroom, rooftop]\ntemplates: ['a {} at night']\n")
    loaded = load_vocabulary(yaml_file)
    assert loaded.templates == ("a {} at night",) and loaded.scenes == ("ballroom", "rooftop")
    listed = tmp_path / "list.yml"
    listed.write_text("- ballroom\n- rooftop\n")
    assert load_vocabulary(listed).templates == SceneVocabulary().templates


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("ballroom\nBallroom \n", "'Ballroom' \\(entry 2\\) duplicates entry 1"),
        ("ballroom\nunknown\n", "'unknown' is reserved"),
        ("ballroom\n", "at least 2 scenes"),
    ],
)
def test_bad_text_vocabularies_are_refused_by_name(tmp_path: Path, content, message) -> None:
    path = tmp_path / "scenes.txt"
    path.write_text(content)
    with pytest.raises(VocabularyError, match=message):
        load_vocabulary(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("scenes: [ballroom, '', rooftop]\n", "entry 2 is empty"),
        ("scenes: [ballroom, null]\n", "entry 2 is None, not text"),
        ("scenes: [a, b]\ntemplates: ['no placeholder']\n", "must be text with one"),
        ("scene: [a, b]\n", "mapping with 'scenes:'"),
        ("scenes: [a, b]\nextra: 1\n", "unknown keys"),
        ("scenes: [a, b\n", "not valid YAML"),
    ],
)
def test_bad_yaml_vocabularies_are_refused_by_name(tmp_path: Path, content, message) -> None:
    path = tmp_path / "scenes.yaml"
    path.write_text(content)
    with pytest.raises(VocabularyError, match=message):
        load_vocabulary(path)


def test_missing_file_and_bad_config_values() -> None:
    with pytest.raises(VocabularyError, match="cannot read"):
        load_vocabulary("/nonexistent/scenes.txt")
    with pytest.raises(VocabularyError, match="duplicates"):
        SceneLabelConfig(root="x", scenes=("park", "park"))
    with pytest.raises(SceneConfigError, match="unknown_threshold"):
        SceneLabelConfig(root="x", unknown_threshold=1.5)
    with pytest.raises(ValueError, match="'sideways' is not a valid PersonMode"):
        SceneLabelConfig(root="x", person_mode="sideways")
