"""The README's first command, run as a newcomer would, end to end."""

from __future__ import annotations

import http.cookiejar
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import pyotp
import pytest

from scripts.orthanc import ORTHANC_BINARY
from scripts.phantoms.__main__ import main as write_phantom
from scripts.phantoms.header import Patient
from tests.helpers.unavailable import require_file
from tests.portal_flask.helpers import TWO_STEP_KEY, csrf_token_in

REPO = Path(__file__).resolve().parents[2]
SEED = 7
SLICES = 4
FILE_SEED = 3


def need_orthanc() -> None:
    require_file(ORTHANC_BINARY, "orthanc")


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


def demo_until(marker: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    """``scripts/demo ARGS`` started as a user runs it, and its output up to a line with ``marker``.

    The demo leads its own process group, as in a terminal, so that a Ctrl-C can be sent
    to the group alone.
    """
    process = subprocess.Popen(
        [str(REPO / "scripts" / "demo"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        env={**os.environ, "YC_VENV": os.environ.get("YC_VENV", str(REPO / ".venv"))},
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=read, daemon=True).start()
    out = []
    while True:
        try:
            line = lines.get(timeout=600)
        except queue.Empty:
            ctrl_c(process)
            pytest.fail("the demo printed nothing for 10 minutes:\n" + "".join(out))
        out.append(line)
        if marker in line or not line:
            return process, "".join(out)


def ctrl_c(process: subprocess.Popen[str]) -> str:
    """What the terminal does on Ctrl-C: SIGINT to the demo's group; the rest of its output."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
    rest, _ = process.communicate(timeout=120)
    return rest or ""


def portal_tasks_page(out: str) -> str:
    """The portal's task monitor, signed in with the email and password the demo printed."""
    url = re.search(r"^  portal: (http://127\.0\.0\.1:\d+)/tasks/ ", out, flags=re.MULTILINE)
    sign_in = re.search(r"sign in as (\S+@\S+) with the password (\S+)$", out, flags=re.MULTILINE)
    assert url and sign_in, out
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with browser.open(url.group(1) + "/auth/sign-in", timeout=30) as page:
        token = csrf_token_in(page.read().decode())
    form = {"csrf_token": token, "email": sign_in.group(1), "password": sign_in.group(2)}
    with browser.open(
        url.group(1) + "/auth/sign-in", urllib.parse.urlencode(form).encode(), timeout=30
    ) as signed_in:
        assert "/auth/sign-in" not in signed_in.url, "the printed sign-in was refused"
    with browser.open(url.group(1) + "/auth/two-step", timeout=30) as page:
        html = page.read().decode()  # a site administrator sets up two-step sign-in first
    key = TWO_STEP_KEY.search(html).group(1)
    form = {"csrf_token": csrf_token_in(html), "code": pyotp.TOTP(key).now()}
    data = urllib.parse.urlencode(form).encode()
    with browser.open(url.group(1) + "/auth/two-step", data, timeout=30) as confirmed:
        assert "Two-step sign-in is on" in confirmed.read().decode()
    with browser.open(url.group(1) + "/tasks/", timeout=30) as page:
        return page.read().decode()


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
    process, out = demo_until(
        "Ctrl-C stops everything",
        *("--work-dir", str(work_dir), "--matrix", "64", "--seed", str(SEED), "--keep"),
    )
    try:
        assert "Ctrl-C stops everything" in out, out
        tasks_page = portal_tasks_page(out)
    finally:
        out += ctrl_c(process)
        print(out)
    assert process.returncode == 0, out
    task_id = re.search(r"^ORT exported task ([0-9a-f-]{36}):", out, flags=re.MULTILINE).group(1)
    row = re.search(rf'<tr data-task="{task_id}">.*?data-status="(\w+)"', tasks_page, re.DOTALL)
    assert row is not None, "the demo's task is on the portal's task monitor"
    assert row.group(1) in ("SUCCEEDED", "DELIVERED")
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
def test_the_demo_reconstructs_the_real_e11_file_with_its_identity_restored(tmp_path):
    need_orthanc()
    real = REPO / "tests" / "data" / "siemens-e11-gre.dat"
    work_dir = tmp_path / "demo"

    result = demo("--work-dir", str(work_dir), "--file", str(real))

    out = result.stdout
    print(out)
    assert result.returncode == 0, out + result.stderr
    assert f"which stays at the site: xxxxxxx ({'x' * 48})" in out
    assert "the agent warned: the raw header's birth date is not a date" in out
    assert "instances stored: 1 in 1 series" in out
    assert "patient name as stored: xxxxxxx (restored by the agent;" in out
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


@pytest.mark.parametrize("option", ["--aws-port", "--portal-port"])
def test_a_busy_port_is_named_before_anything_starts(tmp_path, option):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = demo_options("--work-dir", str(tmp_path), option, str(port))

    assert result.returncode == 2
    assert f"port {port} ({option}) is in use" in result.stderr
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


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP], ids=["term", "hup"])
def test_sigterm_or_sighup_to_the_demo_stops_everything_it_started(tmp_path, stop_signal):
    need_orthanc()
    work_dir = tmp_path / "demo"
    process, out = demo_until(
        "Started the site agent",
        *("--work-dir", str(work_dir), "--matrix", "64", "--seed", str(SEED)),
    )
    assert "Started the site agent" in out, out
    started = processes_mentioning(str(work_dir))
    assert len(started) >= 3, "the cloud, the portal and the agent run"
    os.kill(process.pid, stop_signal)  # `kill PID` of the demo alone, not its group
    process.wait(timeout=120)
    print(out)
    assert process.returncode == 128 + stop_signal
    assert processes_mentioning(str(work_dir)) == []
