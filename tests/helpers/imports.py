"""Which of our packages a unit's code imports, read from its source without importing it."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUR_PACKAGES = frozenset(
    {
        "contracts",
        "functions",
        "administration",
        "portal_flask",
        "recon_image",
        "transfer",
        "agent",
        "scripts",
    }
)


def first_party_imports(package: Path) -> set[str]:
    """The top-level packages of ours that the modules under ``package`` import."""
    found: set[str] = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            found |= {name.split(".")[0] for name in names} & OUR_PACKAGES
    return found


def import_closure(*packages: str) -> set[str]:
    """``packages`` and every package of ours they import, directly or through another."""
    closure: set[str] = set()
    waiting = set(packages)
    while waiting:
        package = waiting.pop()
        closure.add(package)
        waiting |= first_party_imports(REPO / package) - closure
    return closure
