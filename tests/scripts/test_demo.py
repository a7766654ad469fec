"""The README's first command, run as a newcomer would, end to end."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_demo_runs_the_whole_path_and_leaves_nothing_running(tmp_path):
    work_dir = tmp_path / "demo"
    result = subprocess.run(
        [str(REPO / "scripts" / "demo"), "--work-dir", str(work_dir), "--matrix", "64"],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "YC_VENV": os.environ.get("YC_VENV", str(REPO / ".venv"))},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for stage in ("UPLOADING", "SUBMITTED", "RUNNABLE", "RUNNING", "SUCCEEDED"):
        assert f" {stage} " in out
    assert "Result: SUCCEEDED" in out
    assert "usage records: 1" in out
    assert "downloaded 4 DICOM images" in out
    assert "every file matches the worker's manifest" in out
    assert processes_mentioning(str(work_dir)) == []


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain ``text``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in line:
            found.append(line)
    return found
