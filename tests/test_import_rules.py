"""The import rules of DESIGN.md, enforced by walking every module's imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("storage", "extract", "models", "flows")
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
