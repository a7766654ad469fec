"""A transfer killed (SIGKILL) mid-way and started again sends only what is missing.

The first run is capped so it is still moving when the kill lands; the kill
waits until the journal shows a few finished parts (or ranges), so it always
lands mid-transfer. The second run is uncapped.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from transfer import download_object, journal, upload_file
from transfer.integrity import MIB, sha256_file

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
SIZE = 200 * 1000 * 1000
PART = 5 * MIB
TOTAL = math.ceil(SIZE / PART)
CAP_MBPS = "160"  # 20 MB/s: the whole file would take ten seconds
AT_LEAST = 4  # parts (ranges) finished before the kill
DEADLINE = 60.0


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> tuple[Path, str]:
    """200 MB of seeded random bytes, written in 1 MiB chunks, and its sha256."""
    path = tmp_path_factory.mktemp("kill") / "meas.dat"
    rng = random.Random(200)
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        left = SIZE
        while left:
            chunk = rng.randbytes(min(MIB, left))
            digest.update(chunk)
            fh.write(chunk)
            left -= len(chunk)
    return path, digest.hexdigest()


def spawn(emulator, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.transfer.kill_driver", args[0], emulator.endpoint, *args[1:]],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when(process: subprocess.Popen[str], ready: Callable[[], bool]) -> None:
    """SIGKILL ``process`` as soon as ``ready()``; fail if it ends first or the deadline passes."""
    deadline = time.monotonic() + DEADLINE
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                _, err = process.communicate()
                pytest.fail(f"the transfer ended (rc {process.returncode}) before the kill: {err}")
            if ready():
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
                return
            time.sleep(0.05)
        pytest.fail(f"the journal did not show {AT_LEAST} finished parts in {DEADLINE:.0f}s")
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def finish(process: subprocess.Popen[str]) -> dict:
    out, err = process.communicate(timeout=DEADLINE)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def server_parts(s3, bucket: str, key: str, upload_id: str) -> set[int]:
    """Part numbers on the server, read until two listings agree (a dying request may land)."""
    previous = None
    for _ in range(20):
        listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, MaxParts=1000)
        numbers = {part["PartNumber"] for part in listed.get("Parts", [])}
        if numbers == previous:
            return numbers
        previous = numbers
        time.sleep(0.2)
    return previous or set()


def test_killed_upload_resumes_with_only_the_missing_parts(
    emulator, s3, bucket, big_file, tmp_path
):
    source, sha = big_file
    key = "alice/t1/meas.dat"
    jpath = journal.upload_journal_path(source, bucket, key, None)
    args = ("upload", bucket, key, str(source), "--part-size", str(PART))

    def enough_parts() -> bool:
        state = journal.load(jpath)
        return state is not None and len(state.get("parts", {})) >= AT_LEAST

    kill_when(spawn(emulator, *args, "--mbps", CAP_MBPS), enough_parts)
    state = journal.load(jpath)
    assert state is not None
    on_server = server_parts(s3, bucket, key, state["upload_id"])
    assert {int(n) for n in state["parts"]} <= on_server
    assert AT_LEAST <= len(on_server) < TOTAL, "the kill did not land mid-transfer"

    result = finish(spawn(emulator, *args))
    assert result["resumed"] is True
    assert result["parts"] == TOTAL
    assert result["parts_sent"] == TOTAL - len(on_server)
    assert result["sha256"] == sha
    assert not jpath.exists()
    assert s3.head_object(Bucket=bucket, Key=key)["Metadata"]["sha256"] == sha

    got = download_object(s3, bucket, key, tmp_path / "back.dat", concurrency=4)
    assert got.verified_by == "sha256"
    assert sha256_file(tmp_path / "back.dat") == sha
    s3.delete_object(Bucket=bucket, Key=key)


def test_killed_download_resumes_with_only_the_missing_ranges(
    emulator, s3, bucket, big_file, tmp_path
):
    source, sha = big_file
    key = "alice/t2/meas.dat"
    upload_file(s3, source, bucket, key, concurrency=4)
    dest = tmp_path / "t2" / "meas.dat"
    jpath = journal.download_journal_path(dest)
    args = ("download", bucket, key, str(dest), "--part-size", str(PART))

    def enough_ranges() -> bool:
        state = journal.load(jpath)
        return state is not None and len(state.get("ranges", [])) >= AT_LEAST

    kill_when(spawn(emulator, *args, "--mbps", CAP_MBPS), enough_ranges)
    state = journal.load(jpath)
    assert state is not None
    done = len(state["ranges"])
    assert AT_LEAST <= done < TOTAL, "the kill did not land mid-transfer"
    assert not dest.exists()

    result = finish(spawn(emulator, *args))
    assert result["resumed"] is True
    assert result["ranges"] == TOTAL
    assert result["ranges_fetched"] == TOTAL - done
    assert result["verified_by"] == "sha256"
    assert sha256_file(dest) == sha
    assert not jpath.exists()
    s3.delete_object(Bucket=bucket, Key=key)
