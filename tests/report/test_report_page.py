"""`stylemotion report` on the real artefacts of a small main job (tests/report/artefacts.py).

Each input's kind is told by its files; the page has every section, a relative link to a copied
file for every video and plot and nothing that leaves its folder; a section the inputs do not
have says "not in these runs"; every text is escaped; a missing sweep plot is drawn; a re-run
drops copies the page no longer shows; bad input is one line and exit 2; the Prefect helper
writes the page and links it.
"""

from __future__ import annotations

import ast
import hashlib
import html
import shutil
from pathlib import Path

import pytest

from flows.cli import main
from flows.report.build import write_report
from flows.report.inputs import RunKind, detect_kind
from flows.report.page import SECTIONS
from storage.shard_reader import ShardReader
from storage.summary import summarise_dataset
from tests.flows.cli_refusal import assert_refused
from tests.report.artefacts import (
    CHECKPOINT_BYTES,
    JOB_RUNS,
    REPO_ROOT,
    write_evaluate_output,
    write_stylize_output,
)
from tests.report.page_references import broken_references, read_page

MISSING = "not in these runs"


def _references(index: Path, tag: str) -> list[str]:
    return [url for kind, url in read_page(index).references if kind == tag]


def test_kinds_are_told_by_the_files_on_disk(job: Path, tmp_path: Path) -> None:
    expected = {
        "dataset": RunKind.DATASET,
        "runs/encoders": RunKind.ENCODERS,
        "runs/diffusion": RunKind.DIFFUSION,
        "stylized": RunKind.STYLIZE,
        "evaluate": RunKind.EVALUATE,
        "evaluate/report.json": RunKind.EVALUATE,
    }
    assert {name: detect_kind(job / name) for name in expected} == expected
    (tmp_path / "vae").mkdir()
    (tmp_path / "vae" / "vae.pt").write_bytes(b"vae")
    (tmp_path / "empty").mkdir()
    assert detect_kind(tmp_path / "vae") is RunKind.VAE
    assert detect_kind(tmp_path / "empty") is None
    assert detect_kind(job / "evaluate" / "sweep.png") is None
    assert detect_kind(job / "runs" / "encoders" / "eval" / "report_test.json") is None
    pipeline = tmp_path / "pipeline"  # a pipeline's output: a dataset and skeleton previews
    shutil.copytree(job / "dataset", pipeline / "dataset")
    (pipeline / "previews").mkdir()
    preview = next((job / "stylized" / "previews").glob("*.mp4"))
    shutil.copy(preview, pipeline / "previews" / "preview-clip.mp4")
    assert detect_kind(pipeline) is None
    assert detect_kind(pipeline / "dataset") is RunKind.DATASET


def test_report_shows_every_section_from_real_artefacts(
    job: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "report"
    assert main(["report", str(job), *JOB_RUNS, "--out", str(out)]) == 0
    assert f"wrote {out / 'index.html'}" in capsys.readouterr().out
    index = out / "index.html"
    parts = read_page(index)
    assert parts.section_ids == [anchor for anchor, _ in SECTIONS]
    assert broken_references(index, parts) == []
    assert not parts.tags & {"script", "iframe", "object", "embed", "link"}
    videos, images = _references(index, "video"), _references(index, "img")
    assert len(videos) == 2 and all(u.startswith("assets/") and u.endswith(".mp4") for u in videos)
    assert len(images) == 2  # the strength sweep and the style PCA
    text = " ".join(parts.text)
    assert MISSING not in text
    assert text.count("angry") >= 2 and "1.5" in text  # each preview's style and strength
    for checkpoint in (CHECKPOINT_BYTES, CHECKPOINT_BYTES * 2):  # encoder and diffusion runs
        assert hashlib.sha256(checkpoint).hexdigest() in text
    for row in ("identity", "nearest_neighbour", "diffusion:latent_adaptor", "real"):
        assert row in text  # the model beside the baselines and the real data
    summary = summarise_dataset(ShardReader(str(job / "dataset")))
    assert summary.clips == 3 and summary.failures == 1
    for kind in summary.failures_by_kind:
        assert kind in text
    assert "style_knn_top1" in text and "TrainDiffusionConfig" not in text


def test_sections_the_inputs_lack_say_so(job: Path, tmp_path: Path) -> None:
    result = write_report(tmp_path, [str(job / "dataset")])
    assert result.index == tmp_path / "report" / "index.html"  # default: ROOT/report
    assert result.empty_sections == (
        "Stylized motion",
        "Evaluation",
        "Strength sweep",
        "Encoder style embeddings",
        "Runs: config and checksums",
    )
    assert result.index.read_text(encoding="utf-8").count(MISSING) == 5


def test_every_text_is_escaped(job: Path, tmp_path: Path) -> None:
    hostile = '<script>alert("style")</script>&'
    stylized = tmp_path / "stylized"
    write_stylize_output(job / "dataset", stylized, tmp_path / "run<b>x", style=hostile)
    encoders = tmp_path / "enc <img src=x onerror=alert(1)>"
    shutil.copytree(job / "runs" / "encoders", encoders)
    result = write_report(tmp_path, [str(stylized), str(encoders)], tmp_path / "out")
    page = result.index.read_text(encoding="utf-8")
    assert "<script" not in page and "<b>" not in page and "<img src=x" not in page
    assert html.escape(hostile) in page
    parts = read_page(result.index)
    assert hostile in "".join(parts.text)
    assert broken_references(result.index, parts) == []


def test_a_missing_sweep_plot_is_drawn_from_the_report(tmp_path: Path) -> None:
    report = write_evaluate_output(tmp_path / "evaluation", with_plot=False)
    result = write_report(tmp_path, [str(report)], tmp_path / "out")
    images = _references(result.index, "img")
    assert len(images) == 1 and "drawn-sweep" in images[0]
    assert broken_references(result.index, read_page(result.index)) == []


def test_a_rerun_drops_copies_the_page_no_longer_shows(job: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_report(job, JOB_RUNS, out)
    assert len(list((out / "assets").iterdir())) == 4
    write_report(job, ["dataset", "evaluate"], out)
    assert [path.name for path in (out / "assets").iterdir()] == ["000-sweep.png"]
    assert broken_references(out / "index.html", read_page(out / "index.html")) == []


def test_bad_input_is_one_line_and_exit_2(
    job: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("not a folder\n")
    (tmp_path / "other.json").write_text('{"results": 1}')
    out = ["--out", str(tmp_path / "out")]
    assert_refused(capsys, ["report", str(tmp_path / "nope"), "dataset"], "nope", "ROOT")
    assert_refused(
        capsys, ["report", str(tmp_path / "file.txt"), "x", *out], "file.txt", "not a directory"
    )
    assert_refused(
        capsys, ["report", str(tmp_path), "empty", *out], "empty", "not a run this report knows"
    )
    assert_refused(capsys, ["report", str(tmp_path), "other.json", *out], "other.json", "RUN")
    assert_refused(capsys, ["report", str(job), "gone", *out], "gone", "no such file", "RUN")
    below_a_file = str(tmp_path / "file.txt" / "report")
    assert_refused(capsys, ["report", str(job), "dataset", "--out", below_a_file], "--out")


def test_publish_report_writes_the_page_and_links_it(
    job: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.artifacts as artifacts

    links: list[dict] = []

    def record(link: str, **arguments: str) -> None:
        links.append({"link": link, **arguments})

    monkeypatch.setattr(artifacts, "create_link_artifact", record)
    out = str(tmp_path / "r")
    index = artifacts.publish_report(str(job), list(JOB_RUNS), out, key="run-report")
    assert index == str(tmp_path / "r" / "index.html")
    assert links == [
        {
            "link": Path(index).as_uri(),
            "link_text": "r/index.html",
            "key": "run-report",
            "description": links[0]["description"],
        }
    ]
    assert artifacts.publish_report(str(job), ["no-such-run"], str(tmp_path / "r2")) == ""
    assert len(links) == 1  # a report that cannot be written is logged, never raised


def test_the_report_package_imports_no_prefect_and_no_command_line() -> None:
    offenders = []
    for path in sorted((REPO_ROOT / "flows" / "report").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {name}"
                for name in names
                if name.split(".")[0] == "prefect" or name.startswith("flows.cli")
            ]
    assert offenders == []
