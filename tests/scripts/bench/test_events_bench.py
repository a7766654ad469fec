"""The events benchmark at a tiny size: interleaved latency, duplicates and races, jobs counted."""

from __future__ import annotations

import re
import subprocess
import sys

from scripts.local_cloud.emulator import REPO_ROOT


def test_bench_sends_duplicates_and_races_and_finds_one_job_per_task() -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "scripts.bench.events"),
            *("--rounds", "2", "--cases", "2", "--tasks", "4"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if line.startswith("round ")] == [
        "round 1/2 pipeline ...",
        "round 1/2 baseline ...",
        "round 2/2 baseline ...",
        "round 2/2 pipeline ...",
    ]
    assert not [line for line in lines if line.startswith("{")], "no handler log or metric lines"
    out = done.stdout
    baseline = re.search(r"^baseline: upload, then the event at a no-op handler\s+(\d+)", out, re.M)
    assert baseline is not None and int(baseline.group(1)) > 0
    assert re.search(
        r"^pipeline / baseline, per round: [\d.]+ \([\d.]+-[\d.]+ over 2 rounds\)$", out, re.M
    )
    for case in (
        "task file event twice",
        "task file before raw file",
        "v1/job_submit races the event",
    ):
        assert re.search(rf"^{re.escape(case)}\s+2\s+2\s+0$", out, re.M), case
    assert re.search(r"^burst, raw file then task file\s+4\s+4\s+0$", out, re.M)
    assert "tasks without exactly one Batch job: 0" in out
    assert "left out" in out
