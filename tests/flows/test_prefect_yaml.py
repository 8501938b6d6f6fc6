"""prefect.yaml: every deployment's entrypoint is a real Prefect flow of this repository."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml
from prefect import Flow

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_deployments_point_at_flows() -> None:
    spec = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    deployments = spec["deployments"]
    assert deployments
    for deployment in deployments:
        path, name = deployment["entrypoint"].split(":")
        module_spec = importlib.util.spec_from_file_location("entry", REPO_ROOT / path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        assert isinstance(getattr(module, name), Flow), deployment["entrypoint"]
        assert deployment["work_pool"]["name"].startswith("stylemotion-")
