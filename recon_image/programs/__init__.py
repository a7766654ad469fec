"""Built-in programs a mode names, and the error-file contract between a program and the runner.

A step's exit code says only that it failed; the reason the site should read
travels in a small JSON file. The runner names the file in the step's
environment (``YC_ERROR_FILE``); a program that fails on purpose writes
``{"exit_code": 65, "reason": "..."}`` there before it exits, and the runner
raises the worker error that ``exit_code`` stands for, with that reason.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recon_image.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, ReconError

logger = logging.getLogger(__name__)

ERROR_FILE_ENV = "YC_ERROR_FILE"
"""The environment variable naming the error file of the step being run."""

_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class ProgramError:
    """What a failed program reported: the worker exit code it stands for and the reason."""

    exit_code: int
    reason: str


def write_error(path: Path, exit_code: int, reason: str) -> None:
    """Record why a program fails, for the runner (write it just before exiting)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"exit_code": exit_code, "reason": reason}, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")


def read_error(path: Path) -> ProgramError | None:
    """The error a program recorded at ``path``, or None when it wrote none or nothing usable."""
    try:
        with path.open("rb") as handle:
            data = json.loads(handle.read(_MAX_BYTES).decode("utf-8", errors="replace"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    reason, code = data.get("reason"), data.get("exit_code")
    if not isinstance(reason, str) or not reason.strip() or not isinstance(code, int):
        return None
    return ProgramError(exit_code=code, reason=reason.strip())


def run_guarded(program: str, error_file: Path | None, body: Callable[[], None]) -> int:
    """Run a program's ``body``; what it raises becomes the exit code and the recorded reason.

    Returns 0 when ``body`` returns, else 65 (bad input, too little memory included)
    or 70 (an internal fault), after printing the reason and writing it to ``error_file``.
    """
    try:
        body()
    except MemoryError:
        return _fail(
            program,
            error_file,
            EXIT_BAD_INPUT,
            "the raw data needs more memory than this instance has; choose a larger instance"
            " for this protocol in the site's reconstruction settings",
        )
    except ReconError as error:
        return _fail(program, error_file, error.exit_code, str(error))
    except Exception as error:
        logger.exception("internal error")
        return _fail(
            program,
            error_file,
            EXIT_INTERNAL,
            f"{program} failed with an internal error ({type(error).__name__}: {error})",
        )
    return 0


def _fail(program: str, error_file: Path | None, code: int, reason: str) -> int:
    print(f"{program}: {reason}", file=sys.stderr)
    if error_file is not None:
        write_error(error_file, code, reason)
    return code
