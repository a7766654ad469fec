"""The end-to-end benchmark at a tiny size: every stage timed, the goal and the ratios printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.local_cloud.emulator import REPO_ROOT
from scripts.orthanc import ORTHANC_BINARY
from tests.helpers.unavailable import require_file

STAGES = (
    "DE-IDENTIFIED",
    "UPLOADED",
    "SUBMITTED",
    "RUNNING",
    "SUCCEEDED",
    "DOWNLOADED",
    "RE-IDENTIFIED",
    "STORED",
    "COMPLETED",
)


@pytest.mark.slow
def test_bench_times_each_stage_and_prints_its_goal_ratios_and_worker_memory() -> None:
    require_file(ORTHANC_BINARY, "orthanc")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "scripts.bench.e2e", "--matrix", "64"),
            *("--size-mb", "2", "--large-matrix", "64", "--large-coils", "4"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "YC_VENV": os.environ.get("YC_VENV", str(REPO_ROOT / ".venv"))},
    )

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"^stage\s+demo file s\s+step s\s+large file s\s+step s$", out, re.M)
    for stage in STAGES:
        assert re.search(rf"^{stage}\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+$", out, re.M), stage
    assert re.search(r"^demo: start-up [\d.]+ s, task [\d.]+ s .* result ok$", out, re.M)
    assert re.search(
        r"^demo whole run, the scripts/demo command as a user runs it: [\d.]+ s \(exit 0\)"
        r" — (PASS|MISS) against 60 s$",
        out,
        re.M,
    )
    assert re.search(
        r"^large: [\d.]+ MB through the whole path in [\d.]+ s, [\d.]+ MB/s;", out, re.M
    )
    spread = r"[\d.]+ \([\d.]+-[\d.]+ over 2 baselines\)$"
    assert re.search(r"^baseline before the task, on the same local cloud: plain", out, re.M)
    assert re.search(r"^baseline after the task, on the same local cloud: plain", out, re.M)
    assert re.search(rf"^ratio whole path / plain upload \+ download: {spread}", out, re.M)
    assert re.search(rf"^ratio agent de-identify \+ upload .* / plain upload: {spread}", out, re.M)
    assert "(left out: the stack's start-up and shut-down" in out
    assert "3D TWIX VE" in out
    peak = re.search(
        r"^the whole worker's peak memory \(its processes together, sampled every 0\.1 s\):"
        r" (\d+) MB, [\d.]+x the k-space \(\d+ MB\)$",
        out,
        re.M,
    )
    assert peak is not None and int(peak.group(1)) > 0
    written = re.search(r"^wrote ([\d.]+) MB in", out, re.M)
    assert written is not None and 1.0 < float(written.group(1)) < 4.0
    work = re.search(r"(/\S*/e2e-bench-[^/\s]+)/", done.stderr)
    assert work is not None, done.stderr
    assert not Path(work.group(1)).exists(), "its temporary folder, the raw file in it, is deleted"
