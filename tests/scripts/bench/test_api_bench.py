"""The API benchmark, tiny: the gateway and the bare handler interleaved, the ratio spread."""

from __future__ import annotations

import re
import subprocess
import sys

from scripts.local_cloud.emulator import REPO_ROOT


def test_bench_interleaves_the_bare_handler_and_the_gateway() -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "scripts.bench.api"),
            *("--rounds", "3", "--per-round", "2", "--threads", "2"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    order = re.findall(r"^round (\d)/3 (bare|gateway) \.\.\.$", out, re.M)
    assert [name for _, name in order] == ["bare", "gateway", "gateway", "bare", "bare", "gateway"]
    for label in ("bare handler call", "through the gateway"):
        row = rf"^{label}\s+[\d.]+\s+[\d.]+\s+[\d.]+ \([\d.]+-[\d.]+ over 3 rounds\)$"
        assert re.search(row, out, re.M), label
    assert re.search(
        r"^gateway / bare, per-round medians: [\d.]+ \([\d.]+-[\d.]+ over 3 rounds\)$", out, re.M
    )
    assert "(left out: the local cloud's and the gateway's start-up" in out
    assert "UserWarning" not in done.stderr
