"""checkov finds nothing that is not skipped with a written reason beside it."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.helpers.unavailable import unavailable
from tests.terraform.terraform_cli import REPO_ROOT, TERRAFORM_DIR

pytestmark = pytest.mark.slow

TOOLS = REPO_ROOT / ".venv-tools"


def checkov() -> str:
    """The checkov of pyproject.toml's ``checks`` extra, installed on first use."""
    result = subprocess.run(
        ["bash", "-c", "source scripts/lib/setup.sh && ensure_tool_venv checkov"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    binary = TOOLS / "checkov" / "bin" / "checkov"
    if result.returncode != 0 or not binary.exists():
        unavailable(f"checkov could not be installed:\n{result.stderr[-3000:]}")
    return str(binary)


def test_checkov_reports_no_failed_check_without_a_written_reason():
    result = subprocess.run(
        [checkov(), "-d", str(TERRAFORM_DIR), "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']}:"
        f"{check['file_line_range'][0]})"
        for report in reports
        for check in report["results"].get("failed_checks", [])
    ]
    assert failed == [], "fix each finding, or skip it with #checkov:skip=ID:reason beside it"
    skipped = [check for report in reports for check in report["results"].get("skipped_checks", [])]
    assert skipped, "no skips at all: is the skip-comment syntax still read?"
    unexplained = [
        f"{c['check_id']} {c['resource']}"
        for c in skipped
        if len((c["check_result"].get("suppress_comment") or "").strip()) < 20
    ]
    assert unexplained == []
    assert result.returncode == 0, result.stderr[-2000:]
