"""The README's first command, run as a newcomer would, end to end."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from scripts.orthanc import ORTHANC_BINARY
from scripts.phantoms.header import Patient

REPO = Path(__file__).resolve().parents[2]
SEED = 7
SLICES = 4


@pytest.mark.slow
def test_the_demo_runs_the_whole_path_and_leaves_nothing_running(tmp_path):
    if not ORTHANC_BINARY.exists():
        message = f"{ORTHANC_BINARY} is missing: install the Debian package orthanc"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    work_dir = tmp_path / "demo"
    result = subprocess.run(
        [
            str(REPO / "scripts" / "demo"),
            "--work-dir",
            str(work_dir),
            "--matrix",
            "64",
            "--seed",
            str(SEED),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "YC_VENV": os.environ.get("YC_VENV", str(REPO / ".venv"))},
    )
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
