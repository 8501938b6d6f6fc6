"""The diffusion stage end to end on real Bandai clips: train base + adaptor, stylize, refuse.

A subset of the real Bandai set (4 styles, 5 contents) keeps this quick on CPU; the models are
tiny, so these tests check the machinery (loss falls, checkpoints, outputs, provenance,
determinism, bad input), not stylization quality, which docs/STYLIZATION.md measures.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flows.cli import main
from flows.jobs.stylize import StylizeJobConfig, run_stylize_job
from models.diffusion.checkpoint import load_run_checkpoint
from models.diffusion.stylize import DiffusionStylizer, StyleTarget, StylizeError
from models.diffusion.train import TrainDiffusionConfig, train_diffusion
from storage.shard_reader import ClipFilter, ShardReader
from storage.skeleton import JOINT_INDEX
from tests.models.scene_fixtures import STYLES, TINY_DENOISER, TINY_ENCODER, scene_workspace


@pytest.fixture(scope="module")
def workspace(bandai_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The session's real Bandai subset and tiny encoder run (shared with the scene tests)."""
    return scene_workspace(bandai_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def small_bandai(workspace: dict[str, Path]) -> Path:
    return workspace["data"]


def _train_encoders(root: Path, out: Path, seed: int = 0) -> Path:
    args = ["train-encoders", "--data", str(root), "--out", str(out), f"--set=seed={seed}"]
    assert main([*args, *(f"--set={item}" for item in TINY_ENCODER)]) == 0
    return out


@pytest.fixture(scope="module")
def runs(
    small_bandai: Path, workspace: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("diffusion_runs")
    encoders = workspace["encoders"]
    common = ["--data", str(small_bandai), "--encoders", str(encoders)]
    sets = [f"--set={item}" for item in TINY_DENOISER]
    base = work / "base"
    assert main(["train-diffusion", *common, "--out", str(base), *sets, "--set=steps=40"]) == 0
    adaptor = work / "adaptor"
    adaptor_args = ["--stage", "adaptor", "--base", str(base), "--out", str(adaptor)]
    adaptor_args += ["--set=steps=6", "--set=losses.discriminator_enabled=true"]
    assert main(["train-diffusion", *common, *adaptor_args, *sets]) == 0
    return {"encoders": encoders, "base": base, "adaptor": adaptor, "work": work}


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_base_loss_falls_and_adaptor_checkpoint_loads(runs: dict[str, Path]) -> None:
    base = _metrics(runs["base"])
    for name, factor in (("total", 0.5), ("diffusion", 0.9)):
        start = np.mean([m[name] for m in base[:5]])
        end = np.mean([m[name] for m in base[-5:]])
        assert end < factor * start, (name, start, end)
    adaptor = _metrics(runs["adaptor"])
    expected = {"style", "part_style", "content", "key_joint", "foot", "bone", "adversarial"}
    assert expected | {"discriminator"} <= set(adaptor[-1])
    run = load_run_checkpoint(runs["adaptor"])
    assert run.stage == "adaptor" and run.step == 6
    assert run.prototypes.shape[0] == len(run.vocabulary.styles) == len(STYLES)
    base_run = load_run_checkpoint(runs["base"])
    assert base_run.encoder_checksum == run.encoder_checksum
    for name, value in base_run.model.state_dict().items():  # the base stayed frozen
        if "adaptor" not in name:
            assert np.array_equal(value.numpy(), run.model.state_dict()[name].numpy()), name


def test_stylize_command_writes_shards_bvh_and_previews(
    runs: dict[str, Path], small_bandai: Path, tmp_path: Path
) -> None:
    out = tmp_path / "stylized"
    args = ["stylize", "--run", str(runs["adaptor"]), "--source", str(small_bandai)]
    args += ["--source-split", "test", "--source-style", "normal", "--limit", "2"]
    # legs asked by dataset-2's name: the style vocabulary resolves it to the shared `tired`
    args += ["--style", "angry", "--parts", "legs=exhausted", "--steps", "4", "--out", str(out)]
    assert main(args) == 0
    reader = ShardReader(str(out / "dataset"))
    clips = list(reader.iter_clips(ClipFilter()))
    assert len(clips) == 2 and not reader.failures()
    sources = {c.clip_id: c for c in ShardReader(str(small_bandai)).iter_clips(ClipFilter())}
    for clip in clips:
        assert clip.dataset == "stylized" and clip.style == "angry"
        assert "strength=2.0" in clip.source_uri and "legs%3Dexhausted" in clip.source_uri
        source_id = clip.source_uri.split("source=")[1].split("&")[0]
        assert clip.num_frames == sources[source_id].num_frames
        assert (out / "bvh" / f"{clip.clip_id}.bvh").stat().st_size > 1000
        assert (out / "previews" / f"{clip.clip_id}.mp4").stat().st_size > 1000


def test_sampling_is_seeded_and_short_sources_are_padded(
    runs: dict[str, Path], small_bandai: Path
) -> None:
    stylizer = DiffusionStylizer.load(runs["adaptor"], steps=3)
    source = next(ShardReader(str(small_bandai)).iter_clips(ClipFilter(style="normal")))
    short = source.positions[:25]
    condition = stylizer.condition_of_label("happy")
    first = stylizer.stylize_positions([short, source.positions], [condition] * 2, 1.5, seed=3)
    again = stylizer.stylize_positions([short, source.positions], [condition] * 2, 1.5, seed=3)
    other = stylizer.stylize_positions([short, source.positions], [condition] * 2, 1.5, seed=4)
    assert first[0].shape == (25, 19, 3) and first[1].shape == source.positions.shape
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.allclose(first[1], other[1])
    edited = DiffusionStylizer.load(runs["adaptor"], steps=3, source_noise=0.5)
    assert edited._timesteps() == [500, 250, 0]
    near = edited.stylize_positions([source.positions], [condition], 1.5, seed=3)[0]
    assert near.shape == source.positions.shape and not np.allclose(near, first[1])
    with pytest.raises(StylizeError, match="source_noise"):
        DiffusionStylizer.load(runs["adaptor"], source_noise=0.0)
    local = stylizer.stylize([source], [StyleTarget("normal", {"arms": "angry"})], 1.0, seed=0)
    legs = [JOINT_INDEX[name] for name in ("left_knee", "right_ankle", "head")]
    assert np.allclose(local[0][:, legs], source.positions[:, legs], atol=1e-5)  # composed
    wrist = JOINT_INDEX["left_wrist"]
    assert not np.allclose(local[0][:, wrist], source.positions[:, wrist], atol=1e-3)
    outputs = stylizer.stylize([source], [StyleTarget("tired", {"arms": "angry"})], 1.0, seed=0)
    assert outputs[0].shape == source.positions.shape and np.isfinite(outputs[0]).all()


def test_edit_path_returns_the_source_at_strength_zero_and_changes_it_with_style(
    runs: dict[str, Path], small_bandai: Path
) -> None:
    source = next(ShardReader(str(small_bandai)).iter_clips(ClipFilter(style="normal")))
    stylizer = DiffusionStylizer.load(runs["adaptor"], steps=3, content_path="edit")
    condition = stylizer.condition_of_label("angry")
    kept = stylizer.stylize_positions([source.positions], [condition], 0.0, seed=0)[0]
    assert np.allclose(kept, source.positions, atol=1e-4)  # no style: exactly the source
    styled = stylizer.stylize_positions([source.positions], [condition], 10.0, seed=0)[0]
    change = np.abs(styled - source.positions).max()  # a 6-step adaptor: a small change
    assert styled.shape == source.positions.shape and 1e-4 < change < 5.0
    generated = DiffusionStylizer.load(runs["adaptor"], steps=3)
    drawn = generated.stylize_positions([source.positions], [condition], 0.0, seed=0)[0]
    assert not np.allclose(drawn, source.positions, atol=1e-2)  # "generate" redraws the motion
    with pytest.raises(StylizeError, match="content path 'copy'"):
        DiffusionStylizer.load(runs["adaptor"], content_path="copy")


def test_source_control_adaptor_trains_and_samples(
    runs: dict[str, Path], small_bandai: Path
) -> None:
    run = load_run_checkpoint(runs["adaptor"])  # the fixture's adaptor: source control by default
    assert run.model.config.source_control
    assert not load_run_checkpoint(runs["base"]).model.config.source_control  # base: no branch
    trained = [v for n, v in run.model.state_dict().items() if "adaptor_control_zero" in n]
    assert any(value.abs().sum() > 0 for value in trained)  # the zero injection learned
    source = next(ShardReader(str(small_bandai)).iter_clips(ClipFilter(style="normal")))
    edit = DiffusionStylizer.load(runs["adaptor"], steps=2, content_path="edit")
    kept = edit.stylize([source], [StyleTarget("angry")], 0.0, seed=0)[0]
    assert np.allclose(kept, source.positions, atol=1e-4)  # edit + control: 0 is the source
    common = ["--data", str(small_bandai), "--encoders", str(runs["encoders"])]
    out = runs["work"] / "adaptor_plain"
    args = ["--stage", "adaptor", "--base", str(runs["base"]), "--out", str(out)]
    args += ["--set=steps=2", "--set=source_control=false"]
    assert main(["train-diffusion", *common, *args, *(f"--set={i}" for i in TINY_DENOISER)]) == 0
    plain = DiffusionStylizer.load(out, steps=2)
    assert not plain.run.model.config.source_control  # the switch
    output = plain.stylize([source], [StyleTarget("angry")], 1.0, seed=0)[0]
    assert output.shape == source.positions.shape and np.isfinite(output).all()


def test_bad_requests_get_clear_errors(runs: dict[str, Path], small_bandai: Path) -> None:
    stylizer = DiffusionStylizer.load(runs["adaptor"], steps=2)
    with pytest.raises(StylizeError, match="unknown style 'sneaky'.*angry"):
        stylizer.condition_of_label("sneaky")
    with pytest.raises(StylizeError, match="strength 11"):
        stylizer.stylize_positions(
            [np.zeros((60, 19, 3))], [stylizer.condition_of_label("happy")], 11, 0
        )
    with pytest.raises(StylizeError, match="unknown body part 'tail'"):
        stylizer.condition_of_target(StyleTarget("happy", {"tail": "angry"}))
    with pytest.raises(StylizeError, match="no style adaptor"):
        DiffusionStylizer.load(runs["base"])
    with pytest.raises(StylizeError, match="has no clips"):
        stylizer.condition_of_clips([], "empty-reference")
    config = StylizeJobConfig(
        run=str(runs["adaptor"]), sources=(str(small_bandai / "nowhere"),), style=("happy",),
        out=str(runs["work"] / "bad"),
    )  # fmt: skip
    with pytest.raises(StylizeError, match="nowhere: not a dataset root"):
        run_stylize_job(config)
    with pytest.raises(StylizeError, match="--content-path 'copy'"):
        run_stylize_job(StylizeJobConfig(**{**config.__dict__, "content_path": "copy"}))


def test_adaptor_refuses_a_base_trained_with_other_encoders(
    runs: dict[str, Path], small_bandai: Path
) -> None:
    other = _train_encoders(small_bandai, runs["work"] / "encoders_other", seed=1)
    config = TrainDiffusionConfig(
        data_root=str(small_bandai), encoder_run=str(other), out=str(runs["work"] / "mismatch"),
        stage="adaptor", base_run=str(runs["base"]), steps=1,
    )  # fmt: skip
    with pytest.raises(ValueError, match="another encoder run"):
        train_diffusion(config)


def test_diffusion_and_stylize_flows_run_under_prefect(
    prefect_server: str, runs: dict[str, Path], small_bandai: Path, tmp_path: Path
) -> None:
    from flows.diffusion_flows import stylize_batch_flow, train_diffusion_flow
    from flows.validation import ParameterError

    config = TrainDiffusionConfig(
        data_root=str(small_bandai), encoder_run=str(runs["encoders"]),
        out=str(tmp_path / "base"), steps=2, batch_size=8,
    )  # fmt: skip
    outcome = train_diffusion_flow(config, adaptor_steps=2, adaptor_out=str(tmp_path / "adaptor"))
    assert outcome["base"]["final"]["step"] == 2 and outcome["adaptor"]["final"]["step"] == 2
    job = StylizeJobConfig(
        run=str(tmp_path / "adaptor"), sources=(str(small_bandai),), style=("happy",),
        out=str(tmp_path / "out"), steps=2, source_split="test", limit=1, write_previews=False,
    )  # fmt: skip
    result = stylize_batch_flow(job)
    assert result["stylized"] == 1 and result["failed"] == 0
    with pytest.raises(ParameterError, match="strength"):
        stylize_batch_flow(StylizeJobConfig(**{**job.__dict__, "strength": -1.0}))


def test_evaluate_command_scores_the_model_beside_the_baselines(
    runs: dict[str, Path], small_bandai: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from models.evaluation.train_evaluator import TrainEvaluatorConfig, train_evaluator

    evaluator = tmp_path / "evaluator"
    train_evaluator(TrainEvaluatorConfig(str(small_bandai), str(evaluator), steps=20))
    args = ["evaluate", "--data", str(small_bandai), "--evaluator", str(evaluator)]
    args += ["--run", str(runs["adaptor"]), "--styles", "angry", "--seeds", "0"]
    args += ["--strengths", "0,2", "--ddim-steps", "2", "--json", "--plot", str(tmp_path / "p.png")]
    assert main([*args, "--content-path", "generate,edit"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {(row["stylizer"], row.get("strength")) for row in report["results"]}
    assert ("diffusion:generate", 0.0) in rows and ("diffusion:edit", 2.0) in rows
    edit_at_zero = next(
        r for r in report["results"] if r["stylizer"] == "diffusion:edit" and r["strength"] == 0
    )
    assert edit_at_zero["key_joint_error_m"] < 1e-3  # the edit path keeps the source at 0
    assert main([*args, "--content-path", "copy"]) == 2
    assert {"identity", "style_clip_copy", "nearest_neighbour"} <= {name for name, _ in rows}
    assert (tmp_path / "p.png").stat().st_size > 5000


def test_preview_title_names_the_part_styles_and_the_strength() -> None:
    from flows.jobs.stylize import preview_title

    config = StylizeJobConfig(
        run="r", sources=("s",), style=("normal",), out="o", parts={"arms": "old"}
    )
    assert preview_title("normal", config) == "stylized normal (arms old), strength 2"
    plain = StylizeJobConfig(run="r", sources=("s",), style=("angry",), out="o", strength=1.0)
    assert preview_title("angry", plain) == "stylized angry, strength 1"
