"""The worker's errors, each with the exit code that tells Batch whether a retry can help.

Batch's retry strategy (``terraform/resources.json``) retries exit code 75 and
nothing else: bad input or a broken mode fails the same way every time, so it
must not cost the site a second instance.
"""

from __future__ import annotations

EXIT_BAD_INPUT = 65  # EX_DATAERR: the raw data, task or mode cannot be reconstructed
EXIT_INTERNAL = 70  # EX_SOFTWARE: a fault of the worker itself; a retry would fail again
EXIT_RETRY = 75  # EX_TEMPFAIL: interrupted or a transient fault; Batch retries it


class ReconError(Exception):
    """Base of the worker's own errors; ``str(error)`` is the reason the site sees."""

    exit_code = EXIT_INTERNAL


class BadInput(ReconError):
    """Input that no retry can fix: say what is wrong and what to do."""

    exit_code = EXIT_BAD_INPUT


class RawDataError(BadInput):
    """A raw data file that cannot be read, with the byte offset where reading failed."""

    def __init__(self, path: str, offset: int | None, problem: str) -> None:
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"{path}{where}: {problem}")
        self.path = path
        self.offset = offset
        self.problem = problem


class TooLarge(BadInput):
    """Dimensions that would need more memory than the machine has."""


class ModeError(BadInput):
    """A mode that does not exist or cannot run (bad mode file, failing program)."""


class Transient(ReconError):
    """A fault a retry can heal: storage unreachable, the job interrupted."""

    exit_code = EXIT_RETRY
