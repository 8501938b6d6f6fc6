"""prefect.yaml: every deployment's entrypoint is a real Prefect flow of this repository."""

from __future__ import annotations

import dataclasses
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


def test_every_flow_is_deployed_on_its_pool_and_the_crawl_is_nightly() -> None:
    spec = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    deployments = spec["deployments"]
    names = [deployment["name"] for deployment in deployments]
    assert len(names) == len(set(names)), "names must be unique for `prefect deploy --name`"
    pools = {d["entrypoint"].split(":")[1]: set() for d in deployments}
    for deployment in deployments:
        pools[deployment["entrypoint"].split(":")[1]].add(deployment["work_pool"]["name"])
    assert set(pools) == {
        "ingest_mocap_flow",
        "crawl_and_extract_flow",
        "label_scenes_flow",
        "train_encoders_flow",
        "pipeline_flow",
        "train_diffusion_flow",
        "stylize_batch_flow",
        "train_scene_encoder_flow",
    }
    assert "stylemotion-gpu" in pools["train_encoders_flow"]
    for gpu_flow in ("train_diffusion_flow", "stylize_batch_flow", "train_scene_encoder_flow"):
        assert pools[gpu_flow] == {"stylemotion-gpu"}
    assert pools["crawl_and_extract_flow"] == {"stylemotion-cpu"}
    nightly = next(d for d in deployments if d["name"] == "nightly")
    assert isinstance(nightly["schedules"], list) and nightly["schedules"][0]["cron"]


def test_deployment_parameters_build_the_config_dataclasses(shared_data: Path) -> None:
    text = (REPO_ROOT / "prefect.yaml").read_text(encoding="utf-8")
    spec = yaml.safe_load(text.replace("{{ $STYLEMOTION_DATA }}", str(shared_data)))
    for deployment in spec["deployments"]:
        path, name = deployment["entrypoint"].split(":")
        module_spec = importlib.util.spec_from_file_location("entry", REPO_ROOT / path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        parameters = getattr(module, name).validate_parameters(deployment["parameters"])
        config = parameters["config"]
        assert dataclasses.is_dataclass(config), deployment["name"]
        if deployment["name"] == "diffusion-gpu":  # deployed in latent mode: the VAE first
            assert type(parameters["vae"]).__name__ == "TrainVAEConfig"
        if deployment["name"] == "sample":  # the pipeline: every stage on one root
            assert [m.dataset_name for m in config.mocap] == ["bandai_namco_1", "bandai_namco_2"]
            roots = {m.out_root for m in config.mocap}
            assert roots == {config.videos.extract.root} == {config.train.data_root}
            assert Path(config.videos.inputs[0]).is_file()
