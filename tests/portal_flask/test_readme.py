"""The README's security section names only tests that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_NAMED = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
_ROW = re.compile(r"^\| (V\d+\.\d+\.\d+(?:, V\d+\.\d+\.\d+)*) \|", re.MULTILINE)


def security_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("### Security of the portal: OWASP ASVS")
    end = readme.index("\n## ", start)
    return readme[start:end]


def test_every_test_the_security_section_names_exists():
    named = _NAMED.findall(security_section())
    assert len(named) >= 20
    missing = []
    for path, name in named:
        source = ROOT / path
        tree = ast.parse(source.read_text()) if source.exists() else ast.Module(body=[])
        functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        if name not in functions:
            missing.append(f"{path}::{name}")
    assert not missing, missing


def test_every_row_names_asvs_requirements_and_a_test_or_says_it_is_not_met():
    section = security_section()
    rows = [line for line in section.splitlines() if line.startswith("| V")]
    assert len(rows) == len(_ROW.findall(section)) >= 20
    for row in rows:
        assert _NAMED.search(row) or "not met yet" in row, row
