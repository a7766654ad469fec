"""The README's first command, run as a newcomer would, end to end."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.orthanc import ORTHANC_BINARY
from scripts.phantoms.__main__ import main as write_phantom
from scripts.phantoms.header import Patient

REPO = Path(__file__).resolve().parents[2]
SEED = 7
SLICES = 4
FILE_SEED = 3


def need_orthanc() -> None:
    if not ORTHANC_BINARY.exists():
        message = f"{ORTHANC_BINARY} is missing: install the Debian package orthanc"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    """``scripts/demo ARGS`` as a user runs it."""
    return subprocess.run(
        [str(REPO / "scripts" / "demo"), *args],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "YC_VENV": os.environ.get("YC_VENV", str(REPO / ".venv"))},
    )


def demo_options(*args: str) -> subprocess.CompletedProcess[str]:
    """The demo's own program with ``args``, without the environment set-up of ``scripts/demo``."""
    return subprocess.run(
        [sys.executable, "-m", "scripts.demo", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def phantom(path: Path, kind: str) -> Path:
    """A phantom scan (64 x 64, 4 slices) with the fictitious patient of ``FILE_SEED``."""
    write_phantom([str(path), "--format", kind, "--seed", str(FILE_SEED)])
    return path


@pytest.mark.slow
def test_the_demo_runs_the_whole_path_and_leaves_nothing_running(tmp_path):
    need_orthanc()
    work_dir = tmp_path / "demo"
    result = demo("--work-dir", str(work_dir), "--matrix", "64", "--seed", str(SEED))
    out = result.stdout
    print(out)
    assert result.returncode == 0, out + result.stderr
    stages = [
        "DE-IDENTIFIED",
        "UPLOADED",
        "SUBMITTED",
        "RUNNING",
        "SUCCEEDED",
        "DOWNLOADED",
        "RE-IDENTIFIED",
        "STORED",
    ]
    shown = re.findall(r"^\s+\+\s*[0-9.]+ s\s+(\S+)", out, flags=re.MULTILINE)
    assert [stage for stage in shown if stage in stages] == stages, "each stage once, in order"
    patient = Patient.fictitious(SEED)
    assert f"of the fictitious patient {patient.name} ({patient.patient_id})" in out
    # What Orthanc's REST API answered for the study of that patient, as the demo printed it.
    assert re.search(r"Orthanc study: http://127\.0\.0\.1:\d+/app/explorer\.html#study", out)
    assert f"instances stored: {SLICES} in 1 series" in out
    assert f"patient name as stored: {patient.name} (restored by the agent;" in out
    assert re.search(r"cost of the task: \d+\.\d{6} ", out)
    assert f"preview of the middle slice, as the PACS renders it: {work_dir / 'preview.png'}" in out
    assert (work_dir / "preview.png").read_bytes().startswith(b"\x89PNG")
    assert processes_mentioning(str(work_dir)) == []


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain ``text``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in line:
            found.append(line)
    return found


@pytest.mark.slow
def test_the_demo_reconstructs_a_file_of_ones_own_with_its_patient_restored(tmp_path):
    need_orthanc()
    raw = phantom(tmp_path / "meas_MID00042_FID00042_knee.dat", "vb")
    work_dir = tmp_path / "demo"

    result = demo("--work-dir", str(work_dir), "--file", str(raw), "--mode", "yc_cartesian")

    out = result.stdout
    print(out)
    assert result.returncode == 0, out + result.stderr
    patient = Patient.fictitious(FILE_SEED)
    assert re.search(
        r"yarracloud-agent submit queued task [0-9a-f-]{36}: " + re.escape(raw.name), out
    )
    assert f"which stays at the site: {patient.name} ({patient.patient_id})" in out
    assert f"instances stored: {SLICES} in 1 series" in out
    assert f"patient name as stored: {patient.name} (restored by the agent;" in out
    assert raw.exists(), "the user's own file is left where it was"
    assert processes_mentioning(str(work_dir)) == []


@pytest.mark.slow
def test_a_truncated_file_ends_failed_with_the_workers_reason_and_nothing_left(tmp_path):
    need_orthanc()
    whole = phantom(tmp_path / "whole.dat", "vb").read_bytes()
    raw = tmp_path / "truncated.dat"
    raw.write_bytes(whole[: len(whole) * 2 // 3])
    work_dir = tmp_path / "demo"

    result = demo("--work-dir", str(work_dir), "--file", str(raw), "--timeout", "120")

    out = result.stdout
    print(out)
    assert result.returncode == 1, out + result.stderr
    assert re.search(r"^\s+\+\s*[0-9.]+ s\s+FAILED\s", out, flags=re.MULTILINE)
    failed = re.search(r"^Result: the task failed: (.*)$", out, flags=re.MULTILINE)
    assert failed is not None, out
    assert "the file is truncated" in failed.group(1)
    assert "Traceback" not in out + result.stderr
    assert processes_mentioning(str(work_dir)) == []


def test_a_busy_aws_port_is_named_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = demo_options("--work-dir", str(tmp_path), "--aws-port", str(port))

    assert result.returncode == 2
    assert f"port {port} (--aws-port) is in use" in result.stderr
    assert "another port (0 takes any free one)" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [], "nothing was started"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "no_such_mode"], "unknown mode 'no_such_mode': the local cloud offers"),
        (["--file", "/no/such/scan.dat"], "/no/such/scan.dat does not exist"),
        (["--file", "{tmp}/notes.txt"], "notes.txt is neither a Siemens TWIX (.dat) nor an MRD"),
        (["--file", "{tmp}/empty.dat"], "empty.dat is empty"),
    ],
)
def test_a_bad_file_or_mode_is_refused_before_anything_starts(tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("not a scan")
    (tmp_path / "empty.dat").touch()
    work_dir = tmp_path / "demo"

    result = demo_options(
        "--work-dir", str(work_dir), *(a.replace("{tmp}", str(tmp_path)) for a in args)
    )

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not work_dir.exists(), "nothing was started"
