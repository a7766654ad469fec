"""The iterative bench, quick: contenders interleaved, start-up in the clock, one GRAPPA kernel."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from scripts.local_cloud.emulator import REPO_ROOT


@pytest.mark.slow
def test_bench_interleaves_contenders_with_start_up_inside_their_time() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scripts.bench.iterative", "--quick", "--rounds", "2"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    grappa = re.findall(r"^  round (\d)/2 (ours GRAPPA 2x5|pygrappa \(3, 5\)) \.\.\.$", out, re.M)
    assert [name for _, name in grappa] == [
        "ours GRAPPA 2x5", "pygrappa (3, 5)", "pygrappa (3, 5)", "ours GRAPPA 2x5"
    ]  # fmt: skip
    assert "the same kernel: 2 acquired lines x 5 columns" in out
    sense = re.search(
        r"^  ours CG-SENSE\s+([\d.]+) \([\d.]+-[\d.]+\)\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s+1\.00",
        out,
        re.M,
    )
    assert sense is not None
    total, planning = float(sense.group(1)), float(sense.group(2))
    assert 0 < planning <= total, "our FFTW planning is measured and inside the total"
    assert "start-up: ours, FFTW planning with no wisdom; bart, its process start" in out
    assert "ESPIRiT maps, given to every contender (outside their clocks)" in out
