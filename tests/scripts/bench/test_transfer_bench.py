"""The transfer benchmark at a tiny size: contenders interleaved, downloads beside plain HTTP."""

from __future__ import annotations

import re
import subprocess
import sys

from scripts.local_cloud.emulator import REPO_ROOT


def test_bench_interleaves_contenders_and_judges_downloads_against_plain_http() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scripts.bench.transfer", "--size-mib", "2", "--rounds", "2"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    order = re.findall(r"^round (\d)/2 (upload|download) (\S+) \.\.\.$", out, re.M)
    first = [(d, c) for n, d, c in order if n == "1"]
    second = [(d, c) for n, d, c in order if n == "2"]
    assert first[0] == ("upload", "transfer") and first[-1] == ("download", "http-ranges")
    assert second == first[::-1]
    for direction, contender in first:
        row = rf"^{direction}\s+{re.escape(contender)}\s+[\d.]+\s+[\d.]+ \([\d.]+-[\d.]+\)"
        assert re.search(row, out, re.M), (direction, contender)
    assert re.search(
        r"^download time, transfer from the local S3 / the same ranges from a plain file"
        r" server: [\d.]+ \([\d.]+-[\d.]+ over 2 rounds\)$",
        out,
        re.M,
    )
    assert "left out of the Python contenders' time: their process start" in out
    assert re.search(r"^goal upload peak memory < 200 MB: yes", out, re.M)
    assert re.search(r"^all goals hold: (yes|NO)$", out, re.M)
