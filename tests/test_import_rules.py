"""The import rules of DESIGN.md, enforced by walking every module's imports.

Between packages: the table of DESIGN.md / ARCHITECTURE.md. Inside `models/`: the wing order
`common` < `encoders` < `diffusion` < `feedforward`, `evaluation` (side by side) < `scene` (a
wing imports only wings below it; `evaluation` takes the stylizer's `StyleTarget` from
`diffusion`), and only `flows` imports
the `scene` wing from outside it. Across the repository: no import cycle between modules, lazy
and `TYPE_CHECKING` imports included. Inside `flows/`: the layers jobs (`flows.jobs`: plain
functions, no Prefect) < flows (the Prefect modules of `flows/` itself) < command line
(`flows.cli`); a layer imports only layers below it, so no job and no flow imports the CLI.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("storage", "extract", "models", "flows")
# The wings of `models/` and the wings each may import (its own is always fine), bottom to top.
MODEL_WINGS: dict[str, set[str]] = {
    "common": set(),  # shared training helpers: no wing at all
    "encoders": {"common"},
    "diffusion": {"common", "encoders"},
    "feedforward": {"common", "encoders", "diffusion"},  # the AdaIN baseline, beside evaluation
    "evaluation": {"common", "encoders", "diffusion"},
    "scene": {"common", "encoders", "diffusion", "feedforward", "evaluation"},
}
# The layers of `flows/` and the layers each may import (its own is always fine), bottom to top.
FLOWS_LAYERS: dict[str, set[str]] = {
    "jobs": set(),  # library jobs: no Prefect, no flow, no command line
    "flows": {"jobs"},  # the Prefect flows, tasks and their helpers
    "cli": {"jobs", "flows"},  # the command line
}
# Cycles known and left for their owners to cut (each a set of modules); never add to this.
# storage: `joint_maps.detect_skeleton_map` falls back to `rig_matching` by a lazy import, and
# `rig_matching` builds on `joint_maps.SkeletonMap` (the "any BVH rig" change).
# Third-party packages each package may import (stdlib and its own package are always fine).
ALLOWED_THIRD_PARTY: dict[str, set[str] | None] = {
    "storage": {"numpy", "pyarrow", "fsspec"},
    "extract": None,  # anything but the forbidden internal packages and prefect
    "models": None,
    "flows": None,
}
FORBIDDEN: dict[str, set[str]] = {
    "storage": {"prefect", "torch", "extract", "models", "flows"},
    "extract": {"prefect", "models", "flows"},
    "models": {"prefect", "extract", "flows"},
    "flows": set(),
}


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _modules(package: str) -> list[Path]:
    return sorted((REPO_ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_follow_design_rules(package: str) -> None:
    violations = []
    for module in _modules(package):
        for name in _imported_top_levels(module):
            if name in sys.stdlib_module_names or name == package or name == "__future__":
                continue
            allowed = ALLOWED_THIRD_PARTY[package]
            outside_allow_list = allowed is not None and name not in allowed | set(PACKAGES)
            if name in FORBIDDEN[package] or outside_allow_list:
                violations.append(f"{module.relative_to(REPO_ROOT)} imports {name}")
    assert not violations, "import rule violations:\n" + "\n".join(violations)


def test_prefect_only_in_flows() -> None:
    offenders = [
        str(module.relative_to(REPO_ROOT))
        for package in PACKAGES
        if package != "flows"
        for module in _modules(package)
        if "prefect" in _imported_top_levels(module)
    ]
    assert offenders == []


@pytest.mark.parametrize("package", PACKAGES)
def test_generic_package_names_resolve_to_this_repository(package: str, tmp_path: Path) -> None:
    # A fresh interpreter outside the repository sees what a user sees (pytest's own
    # module bookkeeping would hide a shadowing package of the same generic name).
    code = f"import {package}; print({package}.__file__)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    origin = Path(result.stdout.strip()).resolve()
    assert origin.is_relative_to(REPO_ROOT), f"'{package}' resolves to {origin}, not {REPO_ROOT}"


def test_every_module_has_a_docstring() -> None:
    missing = [
        str(module.relative_to(REPO_ROOT))
        for package in PACKAGES
        for module in _modules(package)
        if not ast.get_docstring(ast.parse(module.read_text(encoding="utf-8")))
    ]
    assert missing == []


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _internal_imports(path: Path) -> set[str]:
    """The repository modules `path` imports (lazy and `TYPE_CHECKING` imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)  # submodules
    return {name for name in names if _is_repo_module(name)}


def _is_repo_module(name: str) -> bool:
    if name.split(".")[0] not in PACKAGES:
        return False
    path = REPO_ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "models" and len(parts) > 2 else None


def test_every_models_module_lives_in_a_wing() -> None:
    loose = [p.name for p in (REPO_ROOT / "models").glob("*.py") if p.name != "__init__.py"]
    wings = {p.name for p in (REPO_ROOT / "models").iterdir() if (p / "__init__.py").is_file()}
    assert loose == [], "modules of models/ belong in a wing"
    assert wings == set(MODEL_WINGS)


def _order_violations(
    package: str, layer_of: Callable[[str], str | None], below: dict[str, set[str]]
) -> list[str]:
    """Imports in `package` from a layer (wing) that is not the module's own nor below it."""
    violations = []
    for path in _modules(package):
        layer = layer_of(_module_name(path))
        for name in _internal_imports(path):
            other = layer_of(name)
            if other and other != layer and other not in below.get(layer or "", set()):
                violations.append(f"{path.relative_to(REPO_ROOT)} ({layer}) imports {name}")
    return violations


def test_models_wings_import_only_wings_below() -> None:
    violations = _order_violations("models", _wing, MODEL_WINGS)
    assert not violations, "wing order violations:\n" + "\n".join(violations)


def test_only_flows_imports_the_scene_wing() -> None:
    offenders = [
        f"{path.relative_to(REPO_ROOT)} imports {name}"
        for package in (*PACKAGES, "benchmarks")
        for path in _modules(package)
        for name in _internal_imports(path)
        if _wing(name) == "scene" and package != "flows" and _wing(_module_name(path)) != "scene"
    ]
    assert offenders == [], "only flows/ may import models.scene"


def _flows_layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "flows":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in FLOWS_LAYERS else "flows"


def test_flows_layers_import_only_layers_below() -> None:
    violations = _order_violations("flows", _flows_layer, FLOWS_LAYERS)
    assert not violations, "flows layer violations:\n" + "\n".join(violations)


def test_jobs_import_no_prefect_and_no_command_line() -> None:
    jobs = sorted((REPO_ROOT / "flows" / "jobs").rglob("*.py"))
    assert jobs, "flows/jobs/ holds the library jobs"
    offenders = [
        f"{path.relative_to(REPO_ROOT)} imports {name}"
        for path in jobs
        for name in {*_imported_top_levels(path), *_internal_imports(path)}
        if name == "prefect" or name == "flows.cli" or name.startswith("flows.cli.")
    ]
    assert offenders == [], "a job imports Prefect or the command line"


def test_no_flow_imports_the_command_line() -> None:
    offenders = [
        f"{path.relative_to(REPO_ROOT)} imports {name}"
        for path in _modules("flows")
        if _flows_layer(_module_name(path)) != "cli"
        for name in _internal_imports(path)
        if _flows_layer(name) == "cli"
    ]
    assert offenders == [], "only flows.cli imports flows.cli"


def test_no_import_cycles_between_modules() -> None:
    graph = {
        _module_name(path): _internal_imports(path) - {_module_name(path)}
        for package in PACKAGES
        for path in _modules(package)
    }
    tangled = [group for group in _strongly_connected(graph) if len(group) > 1]
    cycles = [" <-> ".join(sorted(group)) for group in tangled]
    assert cycles == [], "modules importing each other (directly or round a loop):\n" + "\n".join(
        cycles
    )


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Groups of modules that all reach each other (Kosaraju: finish order, then reversed edges)."""
    order, seen = [], set()
    for start in sorted(graph):
        stack = [(start, iter(sorted(graph[start])))] if start not in seen else []
        seen.add(start)
        while stack:
            module, targets = stack[-1]
            target = next((t for t in targets if t in graph and t not in seen), None)
            if target is None:
                order.append(module)
                stack.pop()
            else:
                seen.add(target)
                stack.append((target, iter(sorted(graph[target]))))
    reverse: dict[str, set[str]] = {module: set() for module in graph}
    for module, targets in graph.items():
        for target in targets & graph.keys():
            reverse[target].add(module)
    groups, assigned = [], set()
    for start in reversed(order):
        if start in assigned:
            continue
        group, pending = set(), [start]
        while pending:
            module = pending.pop()
            if module not in assigned:
                assigned.add(module)
                group.add(module)
                pending.extend(reverse[module] - assigned)
        groups.append(group)
    return groups
