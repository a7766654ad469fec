"""The whole-worker memory watcher, on real processes: only marked descendants count."""

from __future__ import annotations

import os
import subprocess
import sys

from scripts.bench.memory import DescendantMemory, descendants

MB = 1e6
HOLDER = (
    "import sys; block = bytearray(160 * 1000 * 1000); print('ready', flush=True); sys.stdin.read()"
)


def start(marker: str) -> subprocess.Popen[str]:
    """A child holding 160 MB, named by ``marker`` on its command line, until its stdin closes."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, marker],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    return child


def test_the_marked_descendants_peak_is_their_memory_together_and_others_do_not_count() -> None:
    marked = [start("bench-worker-28"), start("bench-worker-28")]
    other = start("bench-other")
    try:
        assert {p.pid for p in [*marked, other]} <= descendants(os.getpid())
        watcher = DescendantMemory(b"bench-worker-28")
        watcher.sample()
    finally:
        for child in [*marked, other]:
            child.communicate("")

    assert watcher.seen == {p.pid for p in marked}
    assert 2 * 160 * MB <= watcher.peak_total < 3 * 160 * MB
    assert 160 * MB <= watcher.peak_process < 2 * 160 * MB
