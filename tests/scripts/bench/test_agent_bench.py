"""The agent benchmark at a tiny size: a valid large TWIX file, and a run that prints its goals."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import twixtools

from agent.deid.twix import deidentify_twix, layout
from scripts.bench.agent import write_large_twix
from scripts.bench.agent_driver import written_bytes
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


def filesystem_type(path: Path) -> str:
    """The type of the filesystem ``path`` is on, from the longest matching mount point."""
    mounts = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
    resolved = str(path.resolve())
    best = max(
        (m for m in mounts if resolved == m[1] or resolved.startswith(m[1].rstrip("/") + "/")),
        key=lambda m: len(m[1]),
    )
    return best[2]


def test_written_bytes_counts_what_this_process_writes_to_disk(tmp_path: Path) -> None:
    if filesystem_type(tmp_path) in ("tmpfs", "ramfs"):
        pytest.skip(f"{tmp_path} is in memory: nothing is written to storage")
    before = written_bytes()
    if before is None:
        pytest.skip("this kernel does not count the bytes a process writes (/proc/self/io)")
    with (tmp_path / "copy.dat").open("wb") as out:
        out.write(bytes(4 * MIB))
        out.flush()
        os.fsync(out.fileno())
    (tmp_path / "copy.dat").unlink()

    assert written_bytes() - before >= 4 * MIB  # a copy deleted at once still counts


def test_bench_runs_both_contenders_interleaved_and_prints_its_table_and_goals() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scripts.bench.agent", "--size-mib", "8", "--rounds", "3"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    out = done.stdout
    progress = re.findall(r"^round (\d)/3 (plain|agent) \.\.\.$", out, re.M)
    assert [name for _, name in progress] == ["plain", "agent", "agent", "plain", "plain", "agent"]
    assert [number for number, _ in progress] == ["1", "1", "2", "2", "3", "3"]
    assert re.search(r"^round\s+contender\s+seconds\s+MB/s.*written MB\s+files MB$", out, re.M)
    rows = re.findall(r"^(\d)\s+(plain|agent)\s+[\d.]+\s+[\d.]+\s", out, re.M)
    assert rows == progress
    assert "left out of the time as the agent's start-up" in out
    assert re.search(
        r"^agent / plain time, per round: [\d.]+ \([\d.]+-[\d.]+ over 3 rounds\)", out, re.M
    )
    assert re.search(
        r"^goal ratio agent / plain <= 1\.05: (yes|NO) \(median [\d.]+, rounds [\d.]+-[\d.]+\)$",
        out,
        re.M,
    )
    assert "goal agent peak RSS < 200 MB: yes" in out
    assert re.search(
        r"^goal no extra disk: (yes|NO) \(it wrote at most [\d.]+ MB to storage, the plain upload"
        r" [\d.]+ MB; it left [\d.]+ MB of files",
        out,
        re.M,
    )
    assert "free space" not in out
    assert re.search(r"^all goals hold: (yes|NO)$", out, re.M)
    written = re.search(r" at (/\S+\.dat)$", out, re.M)
    assert written is not None
    assert not Path(written.group(1)).parent.exists()
