"""The recon benchmark, tiny: jobs interleaved, planning on the clock and printed beside."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from scripts.local_cloud.emulator import REPO_ROOT
from tests.helpers.unavailable import require_command

ARRAY_CONTENDERS = ("pipeline", "pipeline-cc12", "fftw", "numpy", "bart")


@pytest.mark.slow
def test_bench_runs_jobs_interleaved_with_planning_and_the_worker_program_on_a_3d_twix() -> None:
    require_command("bart", "bart")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "scripts.bench.recon", "--scale", "0.125"),
            *("--cases", "3d,twix", "--rounds", "2", "--threads", "1"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    order = re.findall(r"^round (\d)/2 (\S+) \.\.\.$", out, re.M)
    array = [name for _, name in order if name in ARRAY_CONTENDERS]
    assert array == [*ARRAY_CONTENDERS, *reversed(ARRAY_CONTENDERS)]
    assert [name for _, name in order if name in ("program", "floor")] == [
        "program", "floor", "floor", "program"
    ]  # fmt: skip
    assert re.search(r"^contender\s+seconds\s+planning s\s+GFLOP/s\s+vs fftw", out, re.M)
    for name in ARRAY_CONTENDERS:
        row = rf"^{re.escape(name)}\s+[\d.]+ \([\d.]+-[\d.]+\)\s+[\d.]+\s+[\d.]+\s+[\d.]+ \("
        assert re.search(row, out, re.M), name
    assert "planning: FFTW plans made inside the clock" in out
    assert "bart: its reading and writing of the .cfl files, timed apart" in out
    assert re.search(
        r"^goal pipeline <= 2x bare FFT\+RSS \(planned\): [\d.]+x \([\d.]+-[\d.]+ over 2", out, re.M
    )
    assert re.search(r"^twix: a 3D TWIX VE file of \d+ MiB written", out, re.M)
    assert re.search(r"^program\s+[\d.]+ \([\d.]+-[\d.]+\)\s+[\d.]+", out, re.M)
    assert re.search(r"^\(the program: read [\d.]+ s \+ reconstruction [\d.]+ s", out, re.M)
    assert re.search(r"^goal the worker's peak memory < 3x k-space: [\d.]+x", out, re.M)
