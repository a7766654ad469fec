"""The agent and ``transfer/`` use only what Windows' Python has, since ORT's host is Windows.

The list below is of ``os`` functions and constants that Python's documentation
marks "Availability: Unix" (not Windows) and that file-moving code is tempted to
use, and of the POSIX-only modules. A static check fails as soon as the agent's
or ``transfer/``'s code names one again; a whole task runs with them removed from
``os``.
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.config import AgentConfig
from agent.ort import OrtFolders
from agent.phi import PhiFile
from contracts.atomic_write import replace_file
from scripts.local_cloud.cloud import REPO_ROOT, WORKER_JOB
from tests.agent.site import (
    AGENT_SECONDS,
    SLICES,
    allow_folder,
    enable_site,
    export_task,
    studies_of,
)

POSIX_ONLY_OS = (
    "pread",
    "pwrite",
    "preadv",
    "pwritev",
    "fchmod",
    "lchmod",
    "fchown",
    "chown",
    "lchown",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getgroups",
    "getpwnam",
    "fork",
    "setsid",
    "getpgid",
    "killpg",
    "fdatasync",
    "sync",
    "statvfs",
    "fstatvfs",
    "posix_fadvise",
    "posix_fallocate",
    "mkfifo",
    "mknod",
    "getloadavg",
    "nice",
    "uname",
    "chroot",
    "fchdir",
    "O_NOFOLLOW",
    "O_DIRECTORY",
    "O_CLOEXEC",
    "O_SYNC",
    "O_DSYNC",
)
POSIX_ONLY_MODULES = ("pwd", "grp", "fcntl", "resource", "termios", "posix")
WINDOWS_SIGNALS = {"SIGABRT", "SIGFPE", "SIGILL", "SIGINT", "SIGSEGV", "SIGTERM", "SIGBREAK"}
CHECKED = ("agent", "transfer", "contracts")


def posix_only_uses(source: str) -> list[str]:
    """What in ``source`` Windows' Python lacks: ``os.X``, ``from os import X``, modules, signals.

    Sorted, so the order of the walk does not matter.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module, name = node.value.id, node.attr
            if module == "os" and name in POSIX_ONLY_OS:
                found.append(f"os.{name}")
            if module == "signal" and name.startswith("SIG") and name not in WINDOWS_SIGNALS:
                found.append(f"signal.{name}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [f"os.{a.name}" for a in node.names if a.name in POSIX_ONLY_OS]
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                modules = [node.module]
            found += [m for m in modules if m and m.split(".")[0] in POSIX_ONLY_MODULES]
    return sorted(found)


def test_the_check_finds_what_windows_lacks() -> None:
    source = "import os, fcntl\nfrom os import pwrite\nos.pread(fd, 1, 0)\nsignal.SIGHUP\n"
    assert posix_only_uses(source) == ["fcntl", "os.pread", "os.pwrite", "signal.SIGHUP"]
    assert posix_only_uses("os.replace(a, b)\nsignal.SIGTERM\nos.fsync(fd)\n") == []


def test_the_agent_transfer_and_contracts_name_nothing_windows_python_lacks() -> None:
    offenders = {}
    for package in CHECKED:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            uses = posix_only_uses(path.read_text(encoding="utf-8"))
            if uses:
                offenders[str(path.relative_to(REPO_ROOT))] = uses
    assert offenders == {}, "POSIX-only calls are back; Windows' Python lacks them"


def test_replacing_a_file_held_open_elsewhere_waits_for_it_then_gives_up(tmp_path: Path) -> None:
    source, target = tmp_path / "new", tmp_path / "old"
    source.write_text("new")
    target.write_text("old")
    held = [PermissionError(13, "The process cannot access the file")] * 3
    pauses: list[float] = []

    def replace(a: Any, b: Any) -> None:
        # As Windows answers while another process holds the target open.
        if held:
            raise held.pop()
        os.replace(a, b)

    replace_file(source, target, sleep=pauses.append, replace=replace)
    assert target.read_text() == "new" and len(pauses) == 3

    source.write_text("newer")

    def always_held(a: Any, b: Any) -> None:
        raise PermissionError(13, "The process cannot access the file")

    with pytest.raises(PermissionError):
        replace_file(source, target, tries=4, sleep=pauses.append, replace=always_held)
    assert target.read_text() == "new" and source.read_text() == "newer"


@pytest.mark.slow
def test_a_whole_task_runs_with_the_posix_only_functions_removed_and_ctrl_c_stops_it(
    api_cloud: Any, orthanc: Any, tmp_path: Path
) -> None:
    _cloud, _clients, _uploader, admin = api_cloud(worker_command=WORKER_JOB)
    config_path = enable_site(admin, orthanc, tmp_path)
    share = allow_folder(admin, config_path, tmp_path / "share")
    config = AgentConfig.load(config_path)
    task, patient, _site = export_task(config.base, seed=2205)
    archived = OrtFolders(config.base).phi_archive / f"{task}.phi"

    command = [sys.executable, "-m", "tests.agent.test_windows", str(config_path)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with (tmp_path / "agent.log").open("wb") as log:
        agent = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + AGENT_SECONDS
        while not archived.exists() and agent.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        # Ctrl+C, as a Windows service manager (NSSM) stops a console program.
        agent.send_signal(signal.SIGINT)
        code = agent.wait(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    print((tmp_path / "agent.log").read_text()[-3000:])

    assert code == 0, "the agent did not stop cleanly"
    assert archived.exists(), "the task did not complete"
    assert PhiFile.load(archived).get("STATUS", "RESULT") == "Completed"
    assert len(studies_of(orthanc, patient.patient_id)) == 1
    assert len(list((share / task).rglob("*.dcm"))) == SLICES


def run_without_posix_functions(config: str) -> int:
    """``yarracloud-agent --config CONFIG run`` in a process whose ``os`` lacks them."""
    for name in POSIX_ONLY_OS:
        if hasattr(os, name):
            delattr(os, name)
    return main(["--config", config, "run"])


if __name__ == "__main__":
    sys.exit(run_without_posix_functions(sys.argv[1]))
