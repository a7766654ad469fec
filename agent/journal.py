"""The task journal: which steps of one task are done, kept so a killed agent resumes.

One JSON file per task (``cloud/journal/{uuid}.json``, see ``agent.ort``)::

    {"version": 1, "steps": [{"step": "upload", "at": "2024-11-26T09:15:00+00:00",
                              "facts": {"bytes": 1234}}, ...]}

``done`` returns only once the new state is on disk: it writes a temporary file
beside the journal, flushes it to the disk, renames it over the journal and
flushes the folder, so a SIGKILL or a power cut leaves either the old journal or
the new one, never a mix. Facts are what later steps need (an upload id, a job
id, a checksum); never put a patient value in them.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.errors import BadTask
from contracts.atomic_write import write_atomically

VERSION = 1


class TaskJournal:
    """The completed steps of one task, persisted at every change.

    Safe to share between threads; one task's steps are meant to be recorded by one
    worker at a time.

    Raises
    ------
    BadTask
        From the constructor, when the file exists but is not a journal this agent
        wrote (corrupt or foreign); the message says how to start the task over.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._steps: list[dict[str, Any]] = self._read()
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            stale.unlink(missing_ok=True)  # a write cut short by a kill; the journal is whole

    def _read(self) -> list[dict[str, Any]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise BadTask(f"cannot read the task journal {self.path}: {exc.strerror}") from None
        try:
            document = json.loads(data)
            if not isinstance(document, dict) or document.get("version") != VERSION:
                raise ValueError("not a version 1 journal")
            steps = document["steps"]
            if not isinstance(steps, list) or not all(_is_step(entry) for entry in steps):
                raise ValueError("malformed steps")
        except (ValueError, KeyError) as exc:
            raise BadTask(
                f"the task journal {self.path} is corrupt ({exc.__class__.__name__}); move it"
                " away and run `yarracloud-agent retry` for the task to start it over"
            ) from None
        return steps

    def done(self, step: str, **facts: Any) -> None:
        """Record ``step`` as done with ``facts``; on disk before this returns.

        Recording a step again replaces its facts and moves it to the end.

        Raises
        ------
        TypeError
            When a fact cannot be written as JSON.
        """
        entry = {
            "step": step,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "facts": facts,
        }
        with self._lock:
            steps = [s for s in self._steps if s["step"] != step] + [entry]
            self._write(steps)
            self._steps = steps

    def forget(self, *steps: str) -> None:
        """Mark ``steps`` as not done (to redo them, as ``retry`` does); on disk when it returns."""
        with self._lock:
            kept = [s for s in self._steps if s["step"] not in steps]
            if kept != self._steps:
                self._write(kept)
                self._steps = kept

    def is_done(self, step: str) -> bool:
        with self._lock:
            return any(s["step"] == step for s in self._steps)

    def facts(self, step: str) -> dict[str, Any]:
        """The facts recorded with ``step``.

        Raises
        ------
        KeyError
            When ``step`` is not done.
        """
        with self._lock:
            for entry in self._steps:
                if entry["step"] == step:
                    return json.loads(json.dumps(entry["facts"]))
        raise KeyError(f"step {step!r} is not done")

    def steps(self) -> list[str]:
        """The done steps, in the order they were recorded."""
        with self._lock:
            return [s["step"] for s in self._steps]

    def when(self, step: str) -> datetime | None:
        """When ``step`` was recorded (UTC), or None when it is not done."""
        with self._lock:
            for entry in self._steps:
                if entry["step"] == step:
                    return datetime.fromisoformat(entry["at"])
        return None

    def _write(self, steps: list[dict[str, Any]]) -> None:
        data = json.dumps({"version": VERSION, "steps": steps}, indent=1).encode()
        write_atomically(self.path, data)


def _is_step(entry: Any) -> bool:
    if not isinstance(entry, dict) or not isinstance(entry.get("step"), str):
        return False
    if not isinstance(entry.get("facts"), dict) or not isinstance(entry.get("at"), str):
        return False
    try:
        datetime.fromisoformat(entry["at"])
    except ValueError:
        return False
    return True
