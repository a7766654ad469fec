"""What ``yarracloud-agent status`` shows: each task's stage, progress, age and last error.

Every task the agent has touched has a folder ``{base}/cloud/agent/{uuid}/`` holding its
working copies and a small state record (``state.json``, written here; the step journal
itself lies in ``cloud/journal/``): the stage being worked on, transfer progress, retry
counts, the next retry time and the last error. The table is built from those files and
from where the ``.phi`` file lies, and never reads or shows a patient value.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.private import private_folder
from transfer import journal as atomic

STATE_FILE = "state.json"
FAILED = "failed"
"""The stage of a task stopped by an error retrying cannot fix; ``retry UUID`` restarts it."""
COMPLETED = "completed"
PROCESSING_ERROR = "processing error"
"""The stage of a task the cloud ended badly; its error is the cloud's reason."""
ENDED = (COMPLETED, PROCESSING_ERROR)
"""The stages of a task that is over: its ``.phi`` archived, nothing left to do."""
STOPPED = (FAILED, *ENDED)
"""The stages of a task that moves no more until someone retries it, if ever."""


def agent_root(base: Path) -> Path:
    """The folder that holds one sub-folder per task the agent works on."""
    return Path(base) / "cloud" / "agent"


class TaskState:
    """The ``state.json`` record of one task; thread-safe, every change written atomically.

    Parameters
    ----------
    folder
        The task's folder under :func:`agent_root`.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / STATE_FILE
        self._lock = threading.Lock()
        self._data: dict[str, Any] = atomic.load(self.path) or {}
        self._last_progress_write = 0.0

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._data.get(key, default)

    def update(self, **values: Any) -> None:
        """Set ``values`` and write the record."""
        with self._lock:
            self._data.update(values)
            self._write()

    def attempts(self, step: str) -> int:
        """How many times ``step`` has failed transiently since it last succeeded."""
        return int(self.get("attempts", {}).get(step, 0))

    def count_attempt(self, step: str) -> int:
        """Add one failed attempt of ``step``; returns the new count."""
        with self._lock:
            counts = dict(self._data.get("attempts", {}))
            counts[step] = counts.get(step, 0) + 1
            self._data["attempts"] = counts
            self._write()
            return counts[step]

    def reset_attempts(self, step: str) -> None:
        with self._lock:
            counts = dict(self._data.get("attempts", {}))
            if counts.pop(step, None) is not None:
                self._data["attempts"] = counts
                self._write()

    def progress(self, done: int, total: int) -> None:
        """Record transfer progress; written at most once a second unless complete."""
        now = time.monotonic()
        with self._lock:
            self._data["progress"] = [done, total]
            if done >= total or now - self._last_progress_write >= 1.0:
                self._last_progress_write = now
                self._write()

    def _write(self) -> None:
        private_folder(self.folder)
        atomic.save(self.path, self._data)


@dataclass(frozen=True)
class TaskRow:
    """One line of the table."""

    uuid: str
    stage: str
    progress: str
    age: str
    error: str


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def _progress(state: dict[str, Any]) -> str:
    done_total = state.get("progress")
    if not done_total or not done_total[1]:
        return ""
    done, total = done_total
    return f"{100.0 * done / total:.0f}% of {total / 2**20:.1f} MiB"


def task_rows(base: Path, *, now: float | None = None) -> list[TaskRow]:
    """Every task in the ORT folders or known to the agent, oldest first.

    A task the ORT client has queued but the agent has not started shows as
    ``queued`` (or ``waiting for ORT`` while its ``.lock`` exists, ``no task file``
    when only its ``.phi`` is there).
    """
    now = time.time() if now is None else now
    cloud = Path(base) / "cloud"
    uuids: dict[str, float] = {}
    for phi in (cloud / "phi").glob("*.phi"):
        uuids.setdefault(phi.stem, phi.stat().st_mtime)
    root = agent_root(base)
    if root.is_dir():
        for folder in root.iterdir():
            if folder.is_dir():
                uuids.setdefault(folder.name, folder.stat().st_mtime)
    rows = []
    for uuid, seen in uuids.items():
        state = atomic.load(root / uuid / STATE_FILE) or {}
        created = float(state.get("created", seen))
        stage = state.get("stage") or _ort_stage(cloud, uuid)
        wait = state.get("retry_at")
        if stage not in STOPPED and wait and wait > now:
            stage = f"{stage} (retry in {_age(wait - now)})"
        rows.append(
            TaskRow(
                uuid=uuid,
                stage=stage,
                progress=_progress(state) if stage.startswith(("upload", "download")) else "",
                age=_age(max(0.0, now - created)),
                error=str(state.get("error", "")),
            )
        )
    rows.sort(key=lambda row: row.uuid)
    return sorted(rows, key=lambda row: -_seconds(row.age))


def _seconds(age: str) -> float:
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[age[-1]]
    return float(age[:-1]) * unit


def _ort_stage(cloud: Path, uuid: str) -> str:
    out = cloud / "out"
    if (out / f"{uuid}.lock").exists():
        return "waiting for ORT"
    if not (out / f"{uuid}.task").exists():
        return "no task file (ORT has not finished the export; export again if it stays)"
    return "queued"


def format_table(rows: list[TaskRow]) -> str:
    """The rows as a fixed-width text table (an empty queue says so)."""
    if not rows:
        return "No tasks."
    header = TaskRow("UUID", "STAGE", "PROGRESS", "AGE", "LAST ERROR")
    table = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in table) for f in ("uuid", "stage", "progress", "age")]
    lines = []
    for row in table:
        cells = [row.uuid, row.stage, row.progress, row.age]
        text = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        lines.append(f"{text}  {row.error}".rstrip())
    return "\n".join(lines)
