"""Peak memory of a group of this process's descendants, sampled while they run.

A job's processes (the worker and the program it starts) are grandchildren of
a bench that runs the local cloud, beside other children (the emulator, a
phantom writer) whose peaks ``getrusage`` would mix in. This watcher reads
``/proc`` every ``interval`` seconds, keeps to the descendants of this process
whose command line holds ``marker``, and records the largest sum of their
resident memory and the largest single peak (``VmHWM``, the process's own high
mark, so a single process's peak is missed only if it comes in its last
interval).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

PROC = Path("/proc")


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process now."""
    parents = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name, in parentheses, may hold spaces: the fields after it are fixed.
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def descendants(root: int) -> set[int]:
    """Every process below ``root`` now."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _status_bytes(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in bytes; zeros once it is gone."""
    rss = hwm = 0
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, hwm


def _command_line(pid: int) -> bytes:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


class DescendantMemory:
    """Watches the descendants whose command line holds ``marker``, in a thread of its own."""

    def __init__(self, marker: bytes, interval: float = 0.1) -> None:
        self.marker = marker
        self.interval = interval
        self.peak_total = 0
        self.peak_process = 0
        self.seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def sample(self) -> None:
        """Read the matching processes' memory once."""
        total = 0
        for pid in descendants(os.getpid()):
            if self.marker not in _command_line(pid):
                continue
            self.seen.add(pid)
            rss, hwm = _status_bytes(pid)
            total += rss
            self.peak_process = max(self.peak_process, hwm)
        self.peak_total = max(self.peak_total, total)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> DescendantMemory:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
