"""The agent benchmark at a tiny size: a valid large TWIX file, and a run that prints its goals."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import twixtools

from agent.deid.twix import deidentify_twix, layout
from scripts.bench.agent import write_large_twix
from scripts.local_cloud.emulator import REPO_ROOT
from scripts.phantoms.header import Patient

MIB = 1024 * 1024


def test_large_twix_reads_back_and_is_accepted_by_the_deidentifier(tmp_path: Path) -> None:
    twix = write_large_twix(tmp_path / "meas.dat", 4, seed=2)

    assert 3.5 * MIB < twix.size < 4.5 * MIB
    assert twix.size % 512 == 0
    measurements = twixtools.read_twix(str(twix.path), verbose=False, keep_acqend=True)
    assert len(measurements) == 2
    imaging = measurements[-1]
    assert imaging["raidfile_hdr"]["patName_"].decode() == Patient.fictitious(2).name
    assert imaging["mdb"][-1].is_flag_set("ACQEND")
    assert len(imaging["mdb"]) - 1 == twix.readouts

    result = deidentify_twix(twix.path)
    headers = layout(twix.path).measurement_headers
    data_start = headers[-1].offset + headers[-1].length
    assert result.patches
    assert all(offset + len(data) <= data_start for offset, data in result.patches)


def test_bench_prints_its_table_and_goals() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scripts.bench.agent", "--size-mib", "8", "--rounds", "1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^round\s+contender\s+seconds\s+MB/s", out, re.M)
    assert re.search(r"^1\s+plain\s+[\d.]+\s+[\d.]+", out, re.M)
    assert re.search(r"^1\s+agent\s+[\d.]+\s+[\d.]+", out, re.M)
    assert re.search(r"^best: plain .* ratio agent / plain [\d.]+$", out, re.M)
    assert re.search(r"^goal ratio agent / plain <= 1\.05: (yes|NO) \([\d.]+\)$", out, re.M)
    assert "goal agent peak RSS < 200 MB: yes" in out
    assert re.search(r"^goal no extra disk: (yes|NO) \(free space fell by", out, re.M)
    assert re.search(r"^all goals hold: (yes|NO)$", out, re.M)
    written = re.search(r" at (/\S+\.dat)$", out, re.M)
    assert written is not None
    assert not Path(written.group(1)).parent.exists()
