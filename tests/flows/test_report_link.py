"""The report's Prefect link: a flow writes the static report page and links it as an artifact.

Under the session's Prefect server, `flows.artifacts.publish_report` (what the pipeline calls at
its end) writes `DIR/index.html` from a real evaluate output and creates a link artifact whose
target is the page's file:// URI; a report that cannot be written leaves the run completed.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.client.orchestration import get_client

from flows.artifacts import publish_report
from tests.report.artefacts import write_evaluate_output


@flow(name="report-link-test")
def report_flow(root: str, runs: list[str], out: str) -> str:
    return publish_report(root, runs, out, key="report-link-test")


def test_a_flow_links_the_report_page(prefect_server: str, tmp_path: Path) -> None:
    write_evaluate_output(tmp_path / "evaluate")
    index = report_flow(str(tmp_path), ["evaluate"], str(tmp_path / "report"))
    assert index == str(tmp_path / "report" / "index.html") and Path(index).is_file()
    with get_client(sync_client=True) as client:
        artifacts = [a for a in client.read_artifacts() if a.key == "report-link-test"]
    assert artifacts and Path(index).as_uri() in str(artifacts[-1].data)
    assert report_flow(str(tmp_path), ["no-such-run"], str(tmp_path / "other")) == ""
