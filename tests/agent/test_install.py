"""The agent's install (``pip install .[agent]``) carries every package of ours it imports."""

from __future__ import annotations

import tomllib

from setuptools import find_namespace_packages

from tests.helpers.imports import REPO, import_closure


def test_the_packages_pip_installs_hold_everything_the_agent_imports() -> None:
    find = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"][
        "find"
    ]
    installed = {name.split(".")[0] for name in find_namespace_packages(REPO, **find)}
    needed = import_closure("agent")
    assert "contracts" in needed
    assert needed <= installed, f"pip install .[agent] would lack {sorted(needed - installed)}"
