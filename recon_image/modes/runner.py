"""Running a mode's steps as processes in the job's work folders.

Folders under the job's work folder: the downloaded inputs (``%rid``), the
reconstruction output ``recon/`` (``%rod``), one ``post-N/`` per
post-processing step (each reads ``%pid``, the previous output, and writes
``%pod``) and ``tmp/`` (``%tmp``). The DICOM files of the last output folder
are the job's result. Pre-processing steps work on the inputs in place.

A ``Bin`` that names a built-in program (``yc-cartesian``) runs this Python
with that program's module; any other ``Bin`` is an executable: a path, a
file in the modules folder (``%bd``, then ``%bu``), or a command on ``PATH``.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import ctypes.util
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from recon_image.errors import (
    EXIT_BAD_INPUT,
    EXIT_RETRY,
    BadInput,
    ModeError,
    ReconError,
    Transient,
)
from recon_image.modes.macros import MacroValues, command_line
from recon_image.modes.modefile import Mode, Step
from recon_image.programs import ERROR_FILE_ENV, read_error

BUILTIN_PROGRAMS: Mapping[str, tuple[str, ...]] = {
    "yc-cartesian": ("-m", "recon_image.programs.cartesian"),
    "yc-parallel": ("-m", "recon_image.programs.parallel"),
}
"""Built-in program names and the arguments that follow ``sys.executable``."""

DEFAULT_STEP_TIMEOUT_S = 4 * 3600.0
TAIL_LINES = 20
_PR_SET_PDEATHSIG = 1
_PROJECT_ROOT = Path(__file__).resolve().parents[2]

OutputSink = Callable[[Step, str], None]


@dataclass(frozen=True)
class ModeJob:
    """One task as the runner sees it.

    Attributes
    ----------
    task_id
        ``%vtid``; also ``%rin``, the task name.
    work_dir
        The job's own folder; the runner creates its sub-folders.
    scan_file, task_file
        ``%rif`` and ``%rit``; the scan file's folder is ``%rid``.
    param
        The task's ``ParamValue`` (``%vparam``).
    modules_dir, user_modules_dir, modes_dir
        ``%bd``, ``%bu`` and ``%md``.
    threads
        Offered to every step as ``OMP_NUM_THREADS``.
    env
        The environment each step starts from.
    step_timeout_s
        A step running longer is stopped and the mode fails.
    """

    task_id: str
    work_dir: Path
    scan_file: Path
    task_file: Path
    param: str
    modules_dir: Path
    user_modules_dir: Path
    modes_dir: Path
    threads: int = 1
    env: Mapping[str, str] = field(default_factory=dict)
    step_timeout_s: float = DEFAULT_STEP_TIMEOUT_S


@dataclass(frozen=True)
class ModeResult:
    """The folder the last step wrote and the DICOM files in it."""

    output_dir: Path
    files: tuple[Path, ...]


def run_mode(mode: Mode, job: ModeJob, *, on_output: OutputSink | None = None) -> ModeResult:
    """Run every step of ``mode`` in order and return the DICOM files it produced.

    Parameters
    ----------
    on_output
        Called with each line a step prints (stdout and stderr together), as it comes.

    Raises
    ------
    ModeError
        A step could not start, failed or timed out, or the mode wrote no DICOM file.
    BadInput, Transient, ReconError
        A step reported its own reason through the error file; its exit code decides which.
    """
    work = job.work_dir
    recon_dir = work / "recon"
    post_dirs = [work / f"post-{n}" for n in range(1, len(mode.postprocessing) + 1)]
    final_dir = post_dirs[-1] if post_dirs else recon_dir
    tmp_dir = work / "tmp"
    for folder in (recon_dir, *post_dirs, tmp_dir):
        folder.mkdir(parents=True, exist_ok=True)
    input_dir = job.scan_file.parent
    base = MacroValues(
        input_dir=input_dir,
        scan_file=job.scan_file,
        task_file=job.task_file,
        recon_out_dir=recon_dir,
        task_name=job.task_id,
        post_in_dir=input_dir,
        post_out_dir=input_dir,
        transfer_dir=final_dir,
        tmp_dir=tmp_dir,
        modules_dir=job.modules_dir,
        user_modules_dir=job.user_modules_dir,
        modes_dir=job.modes_dir,
        mode_file=mode.path,
        acc="",
        param=job.param,
        task_id=job.task_id,
        unique_id=uuid.uuid4().hex[:12],
    )
    plan: list[tuple[Step, MacroValues]] = []
    for step in mode.preprocessing:
        plan.append((step, base))
    for step in mode.reconstruction:
        plan.append(
            (step, dataclasses.replace(base, post_in_dir=input_dir, post_out_dir=recon_dir))
        )
    previous = recon_dir
    for step, out_dir in zip(mode.postprocessing, post_dirs, strict=True):
        plan.append((step, dataclasses.replace(base, post_in_dir=previous, post_out_dir=out_dir)))
        previous = out_dir
    # Every program is found before the first runs: a broken mode fails at once.
    commands = [(step, _command(step, values, job)) for step, values in plan]
    for number, (step, (argv, builtin)) in enumerate(commands, start=1):
        error_file = work / "errors" / f"step-{number}.json"
        _run_step(step, argv, _step_env(job, error_file, builtin), job, error_file, on_output)
    files = tuple(sorted(p for p in final_dir.rglob("*") if p.is_file() and is_dicom(p)))
    if not files:
        raise ModeError(
            f"mode {mode.mode_id!r} finished but wrote no DICOM image into its output folder;"
            " check that its last step writes DICOM files into %pod (or %rod without"
            " post-processing)"
        )
    return ModeResult(output_dir=final_dir, files=files)


def is_dicom(path: Path) -> bool:
    """A DICOM file: the ``DICM`` marker after the 128-byte preamble, or a ``.dcm`` name."""
    if path.suffix.lower() == ".dcm":
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return head[128:132] == b"DICM"


def resolve_program(word: str, job: ModeJob) -> list[str]:
    """The argument-vector prefix that runs the ``Bin`` word ``word``.

    Raises
    ------
    ModeError
        When no such program exists or it is not executable.
    """
    if word in BUILTIN_PROGRAMS:
        return [sys.executable, *BUILTIN_PROGRAMS[word]]
    if "/" in word:
        candidates = [Path(word)]
    else:
        candidates = [job.modules_dir / word, job.user_modules_dir / word]
        found = shutil.which(word, path=job.env.get("PATH", os.defpath))
        if found:
            candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    raise ModeError(
        f"the mode's program {word!r} is neither built in ({', '.join(BUILTIN_PROGRAMS)}), nor an"
        f" executable in the modules folder {job.modules_dir}, nor on PATH; install it in the"
        " worker image or fix the mode's Bin"
    )


def _step_env(job: ModeJob, error_file: Path, builtin: bool) -> dict[str, str]:
    env = dict(job.env)
    env["OMP_NUM_THREADS"] = str(job.threads)
    env[ERROR_FILE_ENV] = str(error_file)
    # Python programs then print in order, so the log's last lines are the last said.
    env.setdefault("PYTHONUNBUFFERED", "1")
    if builtin:
        # A built-in program must import this package from any working folder.
        paths = [str(_PROJECT_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def _command(step: Step, values: MacroValues, job: ModeJob) -> tuple[list[str], bool]:
    """The step's argument vector, and whether it runs a built-in program."""
    words = command_line(step.binary, step.args, values)
    if not words:
        raise ModeError(f"{step.label}: the program name is empty after macro expansion")
    return [*resolve_program(words[0], job), *words[1:]], words[0] in BUILTIN_PROGRAMS


def _run_step(
    step: Step,
    argv: list[str],
    env: dict[str, str],
    job: ModeJob,
    error_file: Path,
    on_output: OutputSink | None,
) -> None:
    error_file.parent.mkdir(parents=True, exist_ok=True)
    error_file.unlink(missing_ok=True)
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=job.work_dir,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_worker,
        )
    except OSError as exc:
        raise ModeError(f"{step.label} could not start ({exc.strerror}); fix the mode") from None
    # Lines are read on a thread so that the main thread only waits: a signal
    # (SIGTERM from Batch) then interrupts the wait, never a half-written log line.
    reader = threading.Thread(
        target=_pump, args=(proc, step, tail, on_output), name="mode-step-output", daemon=True
    )
    reader.start()
    timed_out = False
    try:
        code = proc.wait(timeout=job.step_timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        # Whatever ends the step (its exit, a timeout, SIGTERM to the worker),
        # nothing it started may outlive it.
        _kill_group(proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        reader.join(timeout=5)
    if timed_out:
        raise ModeError(
            f"{step.label} ran longer than {job.step_timeout_s:g} s and was stopped; the data"
            " may be too large for this mode's instance, or the program hangs"
        )
    if code == 0:
        return
    reported = read_error(error_file)
    if reported is not None:
        if reported.exit_code == EXIT_BAD_INPUT:
            raise BadInput(reported.reason)
        if reported.exit_code == EXIT_RETRY:
            raise Transient(reported.reason)
        raise ReconError(reported.reason)
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    last = "\n".join(tail) if tail else "(it printed nothing)"
    raise ModeError(f"{step.label} {how}; its last output:\n{last}")


def _pump(
    proc: subprocess.Popen[bytes],
    step: Step,
    tail: collections.deque[str],
    on_output: OutputSink | None,
) -> None:
    assert proc.stdout is not None
    with proc.stdout:
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            tail.append(line)
            if on_output is not None:
                on_output(step, line)


def _die_with_worker() -> None:
    """Ask Linux to kill the step if the worker dies first, even by SIGKILL (runs in the child).

    The step leads its own session, so a signal to the worker's process group
    does not reach it; this does. The runner starts steps from the main thread,
    which lives as long as the worker.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
