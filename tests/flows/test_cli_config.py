"""`--config FILE` + flags + `--set`: one way to set every job's config (flows.cli.config_args).

Precedence is set > flag > file > dataclass default; bad values and unknown keys are one line,
exit 2, before any work; every subcommand's `--help` still works.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from extract.mocap.ingest import MocapIngestConfig
from flows.cli import build_parser, main
from flows.cli.config_args import build_config
from flows.cli.dataset import INGEST_MOCAP_SHORTCUTS
from flows.cli.diffusion import STYLIZE_SHORTCUTS
from flows.jobs.stylize import StylizeJobConfig
from tests.flows.cli_refusal import assert_refused


def _subcommands() -> list[str]:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(actions[0].choices)


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, str]:
    for name in ("run", "src"):
        (tmp_path / name).mkdir()
    return {name: str(tmp_path / name) for name in ("run", "src", "out")}


def _stylize_argv(dirs: dict[str, str], *extra: str) -> list[str]:
    base = ["stylize", "--run", dirs["run"], "--source", dirs["src"], "--style", "angry"]
    return [*base, "--out", dirs["out"], *extra]


def test_stylize_precedence_set_over_flag_over_file_over_default(
    dirs: dict[str, str], tmp_path: Path
) -> None:
    config_file = tmp_path / "stylize.yaml"
    config_file.write_text(
        "steps: 7\nstrength: 2.5\nseed: 3\nbatch_size: 4\nwrite_bvh: false\nparts: {arms: happy}\n"
    )
    argv = _stylize_argv(dirs, "--config", str(config_file), "--steps", "9", "--seed", "5")
    argv += ["--set", "seed=11", "--set", "parts.legs=sad"]
    args = build_parser().parse_args(argv)
    config = build_config(StylizeJobConfig, args, STYLIZE_SHORTCUTS)
    assert config.seed == 11  # --set wins over the flag and the file
    assert config.steps == 9  # the flag wins over the file
    assert (config.strength, config.batch_size, config.write_bvh) == (2.5, 4, False)  # file
    assert config.parts == {"arms": "happy", "legs": "sad"}
    assert config.source_noise == 1.0 and config.write_previews  # defaults
    assert config.sources == (dirs["src"],) and config.style == ("angry",)


def test_stylize_flags_alone_build_the_same_config_as_before(dirs: dict[str, str]) -> None:
    argv = _stylize_argv(dirs, "--no-bvh", "--no-compose-parts", "--parts", "arms=angry")
    argv += ["--strength", "3", "--limit", "2", "--source-split", "test"]
    config = build_config(StylizeJobConfig, build_parser().parse_args(argv), STYLIZE_SHORTCUTS)
    expected = StylizeJobConfig(
        run=dirs["run"], sources=(dirs["src"],), style=("angry",), out=dirs["out"],
        parts={"arms": "angry"}, strength=3.0, limit=2, source_split="test",
        write_bvh=False, compose_parts=False,
    )  # fmt: skip
    assert config == expected


def test_stylize_runs_the_config_it_built(
    dirs: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.jobs.stylize as job

    seen = []

    class Summary:
        stylized, failed, shards, previews = 1, 0, [], []

    monkeypatch.setattr(job, "run_stylize_job", lambda config, **_: seen.append(config) or Summary)
    config_file = tmp_path / "s.json"
    config_file.write_text('{"steps": 5, "device": "meta"}')
    assert main(_stylize_argv(dirs, "--config", str(config_file), "--set", "steps=6")) == 0
    assert (seen[0].steps, seen[0].device) == (6, "meta")


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (("--set", "steps=0"), ("steps=0", "must be > 0")),
        (("--set", "strength=abc"), ("strength", "expected a number")),
        (("--set", "strength=11"), ("--strength 11",)),  # StylizeJobConfig.validate
        (("--set", "nonsense=1"), ("unknown keys ['nonsense']", "valid:")),
        (("--set", "steps"), ("expected key=value",)),
        (("--steps", "0"), ("--steps 0", "must be > 0")),
    ],
)
def test_stylize_bad_settings_are_one_line_exit_2(
    dirs: dict[str, str], capsys, extra: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    assert_refused(capsys, _stylize_argv(dirs, *extra), *needles)
    assert not (Path(dirs["out"]) / "dataset").exists()


def test_unknown_keys_in_the_config_file_are_refused(
    dirs: dict[str, str], tmp_path: Path, capsys
) -> None:
    config_file = tmp_path / "bad.yaml"
    config_file.write_text("steps: 4\nstrenght: 2\n")
    assert_refused(capsys, _stylize_argv(dirs, "--config", str(config_file)), "strenght", "valid:")
    config_file.write_text("- a list\n")
    assert_refused(capsys, _stylize_argv(dirs, "--config", str(config_file)), "mapping")


def _ingest_argv(dirs: dict[str, str], *extra: str) -> list[str]:
    return ["ingest-mocap", dirs["src"], "--out", dirs["out"], *extra]


def test_ingest_mocap_precedence(dirs: dict[str, str], tmp_path: Path) -> None:
    config_file = tmp_path / "ingest.yaml"
    config_file.write_text(
        "shard_size: 5\nval_fraction: 0.1\ntest_fraction: 0.2\ndataset: fromfile\n"
        "test_contents: [walk, bow]\ntest_content_takes: [[guide, '001']]\n"
    )
    argv = _ingest_argv(dirs, "--config", str(config_file), "--shard-size", "7")
    argv += ["--val-fraction", "0.3", "--set", "val_fraction=0.4", "--test-contents", "run"]
    config = build_config(
        MocapIngestConfig, build_parser().parse_args(argv), INGEST_MOCAP_SHORTCUTS
    )
    assert config.val_fraction == 0.4  # --set > flag > file
    assert config.shard_size == 7 and config.test_contents == ("run",)  # flag > file
    assert config.test_fraction == 0.2 and config.dataset == "fromfile"  # file
    assert config.test_content_takes == (("guide", "001"),)
    assert config.scale is None and config.label_pattern is None  # defaults
    assert (config.src_dir, config.out_root) == (dirs["src"], dirs["out"])


def test_ingest_mocap_flags_alone_keep_their_meaning(dirs: dict[str, str]) -> None:
    argv = _ingest_argv(dirs, "--test-takes", "walk:002,bow:001", "--test-contents", "a,b")
    config = build_config(
        MocapIngestConfig, build_parser().parse_args(argv), INGEST_MOCAP_SHORTCUTS
    )
    assert config == MocapIngestConfig(
        dirs["src"], dirs["out"], test_contents=("a", "b"),
        test_content_takes=(("walk", "002"), ("bow", "001")),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (("--set", "shard_size=0"), ("shard_size=0", "must be > 0")),
        (("--set", "shard_size=.inf"), ("shard_size", "expected an integer")),
        (("--set", "scale=-2"), ("--scale -2",)),  # MocapIngestConfig.validate
        (("--set", "val_fraction=2"), ("val_fraction",)),
        (("--set", "out=x"), ("unknown keys ['out']", "out_root")),
        (("--shard-size", "0"), ("--shard-size 0",)),
    ],
)
def test_ingest_mocap_bad_settings_are_one_line_exit_2(
    dirs: dict[str, str], capsys, extra: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    assert_refused(capsys, _ingest_argv(dirs, *extra), *needles)
    assert not (Path(dirs["out"]) / "clips").exists()


@pytest.mark.parametrize("command", _subcommands())
def test_every_subcommand_has_help(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    assert "usage: stylemotion" in capsys.readouterr().out


def test_label_scenes_settings(dirs: dict[str, str], tmp_path: Path) -> None:
    from extract.scene_labels.label_config import SceneLabelConfig
    from flows.cli.scene_labels import LABEL_SCENES_SHORTCUTS

    config_file = tmp_path / "scenes.yaml"
    config_file.write_text("unknown_threshold: 0.4\nnum_keyframes: 2\ncaptions: false\n")
    argv = ["label-scenes", dirs["src"], "--config", str(config_file), "--keyframes", "4"]
    argv += ["--no-zero-shot", "--set", "batch_size=8"]
    args = build_parser().parse_args(argv)
    config = build_config(SceneLabelConfig, args, LABEL_SCENES_SHORTCUTS)
    assert (config.unknown_threshold, config.num_keyframes, config.batch_size) == (0.4, 4, 8)
    assert not config.zero_shot and not config.captions and config.person_mode == "blur"
    assert not config.offline and not config.replace


def test_video_commands_settings(dirs: dict[str, str], tmp_path: Path) -> None:
    from flows.cli.video import _crawl_config, extract_config, ingest_videos_config

    config_file = tmp_path / "crawl.yaml"
    config_file.write_text("max_height: 480\nretries: 5\n")
    styles = tmp_path / "styles.yaml"
    argv = ["crawl", str(styles), "--out", dirs["out"], "--config", str(config_file)]
    args = build_parser().parse_args([*argv, "--sleep", "4", "--set", "shard_size=3"])
    crawl = _crawl_config(args, {"max_height": 360, "max_duration_s": 90.0})
    assert (crawl.max_height, crawl.max_duration_s, crawl.retries) == (480, 90.0, 5)
    assert (crawl.sleep_interval_s, crawl.max_sleep_interval_s, crawl.shard_size) == (4, 4, 3)

    argv = ["extract", dirs["src"], "--people", "2", "--set", "pose.max_people_tracks=3"]
    extract = extract_config(build_parser().parse_args(argv))
    assert (extract.pose.num_poses, extract.pose.max_people_tracks) == (2, 3)
    assert extract.workers == 1 and extract.root == dirs["src"]

    config_file.write_text("crawl: {max_height: 240}\nextract: {dataset: mine}\n")
    argv = ["ingest-videos", dirs["src"], "--style", "happy", "--out", dirs["out"]]
    argv += ["--config", str(config_file), "--workers", "2", "--set", "crawl.retries=1"]
    config = ingest_videos_config(build_parser().parse_args(argv))
    assert config.crawl.out_root == config.extract.root == dirs["out"]
    assert (config.crawl.max_height, config.crawl.retries, config.crawl.sleep_interval_s) == (
        240, 1, 1.0,
    )  # fmt: skip
    assert (config.extract.dataset, config.extract.workers) == ("mine", 2)
    assert config.inputs == (dirs["src"],) and config.style == "happy"


@pytest.mark.parametrize(
    "argv",
    [
        ["train-evaluator", "--data", "D", "--out", "O"],
        ["train-encoders", "--data", "D", "--out", "O"],
        ["train-diffusion", "--data", "D", "--encoders", "E", "--out", "O"],
        ["train-vae", "--data", "D", "--encoders", "E", "--out", "O"],
        ["train-adain", "--data", "D", "--encoders", "E", "--out", "O"],
        ["train-scene-encoder", "--data", "D", "--encoders", "E", "--out", "O"],
    ],
)
def test_training_commands_share_the_options(argv: list[str], tmp_path: Path) -> None:
    config_file = tmp_path / "c.yaml"
    config_file.write_text("out: from-file\n")
    args = build_parser().parse_args([*argv, "--config", str(config_file), "--set", "a=1"])
    assert args.config == config_file and args.set == ["a=1"]


def test_eval_encoders_settings(dirs: dict[str, str], tmp_path: Path) -> None:
    from flows.cli.encoders import eval_config

    label_map = tmp_path / "map.json"
    label_map.write_text('{"joy": "happy"}')
    config_file = tmp_path / "eval.yaml"
    config_file.write_text("split: val\nk: 3\n")
    argv = ["eval-encoders", "--run", dirs["run"], "--config", str(config_file)]
    argv += ["--label-map", str(label_map), "--set", "label_map.rage=angry"]
    config = eval_config(build_parser().parse_args(argv))
    assert (config.split, config.k, config.data_root) == ("val", 3, None)
    assert config.label_map == {"joy": "happy", "rage": "angry"}
    config = eval_config(build_parser().parse_args(["eval-encoders", "--run", dirs["run"]]))
    assert (config.split, config.label_map, config.k) == ("test", {}, 5)


def test_evaluate_settings(dirs: dict[str, str], tmp_path: Path, capsys) -> None:
    from flows.cli.evaluate import evaluate_config

    config_file = tmp_path / "evaluate.yaml"
    config_file.write_text("strengths: [0.5, 2]\nseeds: [3]\nddim_steps: 10\nstyles: [angry]\n")
    argv = ["evaluate", "--data", dirs["src"], "--config", str(config_file)]
    argv += ["--ddim-steps", "30", "--no-parts", "--set", "seeds=[4, 5]"]
    config = evaluate_config(build_parser().parse_args(argv))
    assert (config.strengths, config.seeds, config.ddim_steps) == ((0.5, 2.0), (4, 5), 30)
    assert config.styles == ("angry",) and config.part_targets is False
    config = evaluate_config(build_parser().parse_args(["evaluate", "--data", dirs["src"]]))
    assert (config.strengths, config.seeds, config.source_style) == ((2.0,), (0, 1), "normal")
    assert config.content_paths == ("edit",)
    assert config.runs == () and config.adain_runs == () and config.part_targets is True
    argv = ["evaluate", "--data", dirs["src"], "--adain", dirs["run"], dirs["src"]]
    assert evaluate_config(build_parser().parse_args(argv)).adain_runs == (dirs["run"], dirs["src"])
    bad = ["evaluate", "--data", dirs["src"], "--set", "strengths=[1, 12]"]
    assert_refused(capsys, bad, "--strengths 1,12: each must lie in [0, 10]")
    assert_refused(capsys, ["evaluate", "--data", dirs["src"], "--set", "nope=1"], "unknown keys")


def test_evaluate_scene_settings(dirs: dict[str, str], tmp_path: Path) -> None:
    from flows.cli.scene_style import EVALUATE_SCENE_SHORTCUTS
    from flows.jobs.scene_style import EvaluateSceneConfig
    from models.scene.evaluate import DEFAULT_ALPHAS

    assert EvaluateSceneConfig(run="r").alphas == DEFAULT_ALPHAS  # one default, two places
    config_file = tmp_path / "scene.yaml"
    config_file.write_text("alphas: [0, 1]\nreport_alpha: 0\n")
    argv = ["evaluate-scene", "--run", dirs["run"], "--config", str(config_file)]
    args = build_parser().parse_args([*argv, "--report-alpha", "1", "--set", "offline=true"])
    config = build_config(EvaluateSceneConfig, args, EVALUATE_SCENE_SHORTCUTS)
    assert (config.alphas, config.report_alpha, config.offline) == ((0.0, 1.0), 1.0, True)


def test_pipeline_settings_over_the_sample_pipeline(shared_data: Path, tmp_path: Path) -> None:
    from flows.cli.pipeline import pipeline_config

    config_file = tmp_path / "pipeline.yaml"
    config_file.write_text("label_scenes: false\ntrain: {steps: 40}\n")
    argv = ["pipeline", "--data", str(shared_data), "--out", str(tmp_path / "o"), "--steps", "9"]
    argv += ["--config", str(config_file), "--set", "train.log_every=3"]
    config = pipeline_config(build_parser().parse_args([*argv, "--training-mode", "in-process"]))
    assert [m.dataset_name for m in config.mocap] == ["bandai_namco_1", "bandai_namco_2"]
    assert (config.train.steps, config.train.log_every) == (9, 3)  # flag over file, set on top
    assert config.label_scenes is False and config.training_mode == "in-process"
    plain = ["pipeline", "--data", str(shared_data), "--out", str(tmp_path / "o"), "--steps", "9"]
    config = pipeline_config(build_parser().parse_args(plain))
    assert config.train.steps == 9 and config.training_mode == "auto"
    no_steps = ["pipeline", "--data", str(shared_data), "--out", str(tmp_path / "o")]
    config = pipeline_config(build_parser().parse_args([*no_steps, "--config", str(config_file)]))
    assert config.train.steps == 40  # the file over the default
