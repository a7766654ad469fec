"""The agent's de-identify-and-upload of a large TWIX file beside a plain upload of the same file.

Writes a synthetic Siemens TWIX VE file (multi-RAID, two measurements, the
realistic identity-carrying header of ``scripts/phantoms/header.py``) of
``--size-mib``, then uploads it to the local AWS emulator with two contenders,
each in a process of its own (``scripts.bench.agent_driver``), interleaved
round by round (plain, agent, then agent, plain, ...) for ``--rounds`` rounds:

- ``plain``: ``transfer.upload.upload_file`` of the file as it is;
- ``agent``: ``agent.deid.twix.deidentify_twix`` then the same upload with the
  patches applied while reading, as the agent's pipeline does.

Prints seconds, MB/s, peak RSS (VmHWM of the contender's process) and its disk
use, measured from what the process itself writes: the bytes its I/O counters
say it sent to storage (``/proc/<pid>/io``) and the files it left beside the
raw file (its journal). The free space of the disk is no measure: other
processes write to it. Then the goals: the agent / plain time ratio, the median
of the per-round ratios (printed with their spread), <= 1.05; agent peak RSS <
200 MB; and no copy of the file on disk (the agent writes no more than the plain
upload, give or take 1 MB, and leaves under 1% of the file's size in files).

The emulator keeps what it stores in temporary files; it is given a
temporary folder on another filesystem (``/dev/shm``) where there is one, so
that its writes do not compete with the contenders for the file's disk.

    python -m scripts.bench.agent [--size-mib 384] [--rounds 6] [--keep-file] [--full]

The default run takes about two minutes; ``--full`` uploads a 2 GiB file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import struct
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3

from scripts.bench.rounds import interleaved, ratio_spread, run_rounds
from scripts.bench.transfer import CREDENTIALS, REGION, run_measured
from scripts.local_cloud.emulator import Emulator
from scripts.phantoms.header import Patient, Site
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_ve import ACQEND_DMA_LENGTH, write_ve

MIB = 1024 * 1024
MB = 1e6
CONTENDERS = ("plain", "agent")
RATIO_GOAL = 1.05
MEMORY_GOAL_MB = 200
WRITE_CHUNK = 8 * MIB
ALIGN = 512
RAID_ENTRIES_AT = 8
RAID_ENTRY_BYTES = 152
RAID_LENGTH_AT = 16
SHM = Path("/dev/shm")
# A copy of the file would take all of its size; a journal takes a few kilobytes.
CREATED_SHARE = 0.01
WRITE_SLACK_MB = 1.0


@dataclass(frozen=True)
class LargeTwix:
    """A synthetic TWIX file: its path, size, and readouts in its imaging measurement."""

    path: Path
    size: int
    readouts: int
    seconds: float


def write_large_twix(path: Path, size_mib: int, seed: int = 1) -> LargeTwix:
    """Write a TWIX VE file of about ``size_mib`` MiB at ``path``.

    A small scan is written through twixtools' writer by the phantom writer
    (its header, RAID entries and readouts as a scanner's); the readouts of
    its imaging measurement, which is the file's last, are then repeated
    until the file has the size asked for, and that measurement's RAID entry
    is given its new length. Every readout keeps its own header, so the file
    reads as TWIX from end to end while only the data region grows.
    """
    started = time.perf_counter()
    patient, site = Patient.fictitious(seed), Site.fictitious(seed)
    scan = simulate(ScanSettings(matrix=(64, 64, 2), coils=4, seed=seed))
    small = path.with_name(path.name + ".small")
    small.unlink(missing_ok=True)
    try:
        write_ve(scan, small, patient=patient, site=site)
        raw = small.read_bytes()
    finally:
        small.unlink(missing_ok=True)
    count = struct.unpack_from("<I", raw, 4)[0]
    entry = RAID_ENTRIES_AT + (count - 1) * RAID_ENTRY_BYTES
    offset, length = struct.unpack_from("<QQ", raw, entry + 8)
    header_length = struct.unpack_from("<I", raw, offset)[0]
    data_start, end = offset + header_length, offset + length
    readouts = raw[data_start : end - ACQEND_DMA_LENGTH]
    acqend = raw[end - ACQEND_DMA_LENGTH : end]
    if len(readouts) % len(scan.readouts):
        raise RuntimeError("the phantom's imaging measurement does not hold whole readouts")

    copies = max(1, round((size_mib * MIB - data_start - len(acqend)) / len(readouts)))
    head = bytearray(raw[:data_start])
    new_length = header_length + copies * len(readouts) + len(acqend)
    struct.pack_into("<Q", head, entry + RAID_LENGTH_AT, new_length)
    per_chunk = max(1, WRITE_CHUNK // len(readouts))
    chunk = readouts * per_chunk
    with path.open("xb") as out:
        out.write(head)
        for _ in range(copies // per_chunk):
            out.write(chunk)
        out.write(readouts * (copies % per_chunk))
        out.write(acqend)
        out.write(bytes(-out.tell() % ALIGN))
        out.flush()
        # On disk before the first contender reads it, so no write-back runs beside it.
        os.fsync(out.fileno())
    return LargeTwix(
        path=path,
        size=path.stat().st_size,
        readouts=copies * len(scan.readouts),
        seconds=time.perf_counter() - started,
    )


@dataclass
class Run:
    round: int
    contender: str
    seconds: float
    deid_seconds: float
    size: int
    patches: int
    peak_rss_mb: float
    baseline_mb: float
    written_mb: float | None
    created_mb: float

    @property
    def mb_per_s(self) -> float:
        return self.size / self.seconds / MB


@contextlib.contextmanager
def emulator_storage_off(path: Path) -> Iterator[tuple[str, str]]:
    """Start the emulator with its temporary folder off ``path``'s filesystem where possible.

    Yields its endpoint and a note saying where it keeps what it stores.
    """
    elsewhere = (
        SHM.is_dir() and os.access(SHM, os.W_OK) and (os.stat(SHM).st_dev != os.stat(path).st_dev)
    )
    saved = os.environ.get("TMPDIR")
    if elsewhere:
        os.environ["TMPDIR"] = str(SHM)
    try:
        emulator = Emulator()
        emulator.start()
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved
    note = (
        f"the emulator stores objects under {SHM}, another filesystem"
        if elsewhere
        else "the emulator stores objects on the file's filesystem: extra disk includes them"
    )
    try:
        yield emulator.endpoint, note
    finally:
        emulator.stop()


class Bench:
    def __init__(self, endpoint: str, work: Path, twix: LargeTwix) -> None:
        self.endpoint = endpoint
        self.work = work
        self.twix = twix
        self.bucket = f"bench-agent-{uuid.uuid4().hex[:12]}"
        self.env = {**os.environ, **CREDENTIALS, "AWS_REGION": REGION, "AWS_ENDPOINT_URL": endpoint}
        self.env.pop("AWS_PROFILE", None)
        self.s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        self.s3.create_bucket(
            Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        self.sha256: dict[str, str] = {}

    def measure(self, round_number: int, contender: str) -> Run:
        key = f"{contender}/{round_number}/{self.twix.path.name}"
        command = [
            sys.executable,
            "-m",
            "scripts.bench.agent_driver",
            contender,
            self.bucket,
            key,
            str(self.twix.path),
            "--endpoint-url",
            self.endpoint,
            "--journal-dir",
            str(self.work / f"journals-{contender}-{round_number}"),
        ]
        stdout, _, _ = run_measured(command, self.env)
        facts = json.loads(stdout)
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        if head["ContentLength"] != self.twix.size:
            raise RuntimeError(f"{contender} uploaded {head['ContentLength']} bytes")
        self.sha256[contender] = head["Metadata"].get("sha256", "")
        self.s3.delete_object(Bucket=self.bucket, Key=key)  # the emulator keeps it whole
        return Run(
            round=round_number,
            contender=contender,
            seconds=facts["seconds"],
            deid_seconds=facts["deid_seconds"],
            size=facts["bytes"],
            patches=facts["patches"],
            peak_rss_mb=facts["vm_hwm_mb"],
            baseline_mb=facts["baseline_mb"],
            written_mb=facts["written_mb"],
            created_mb=facts["created_mb"],
        )

    def check_patched(self, runs: list[Run]) -> None:
        """The agent's object must differ from the plain one: its header went up patched."""
        if not all(r.patches for r in runs if r.contender == "agent"):
            raise RuntimeError("de-identification found nothing to patch in the phantom's header")
        if self.sha256["agent"] == self.sha256["plain"]:
            raise RuntimeError("the agent's upload has the same sha256 as the plain upload")


def _written(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def report(runs: list[Run], twix: LargeTwix) -> bool:
    """Print the table and the goals; True when every goal holds."""
    print()
    header = ("round", "contender", "seconds", "MB/s", "de-id s", "peak RSS MB", "imports MB")
    columns = "{:<5} {:<9} {:>8} {:>8} {:>8} {:>12} {:>11} {:>11} {:>11}"
    print(columns.format(*header, "written MB", "files MB"))
    for r in runs:
        print(
            f"{r.round:<5} {r.contender:<9} {r.seconds:8.2f} {r.mb_per_s:8.1f}"
            f" {r.deid_seconds:8.3f} {r.peak_rss_mb:12.1f} {r.baseline_mb:11.1f}"
            f" {_written(r.written_mb):>11} {r.created_mb:11.3f}"
        )
    print(
        "(in the order they ran; peak RSS: VmHWM of the contender's process; imports: its"
        " resident memory before the clock starts, left out of the time as the agent's"
        " start-up, paid once per service start; written: bytes the process sent to storage,"
        " from its I/O counters; files: the files it left beside the raw file)"
    )
    agent = [r for r in runs if r.contender == "agent"]  # runs are in round order
    plain = [r for r in runs if r.contender == "plain"]
    ratio = ratio_spread([r.seconds for r in agent], [r.seconds for r in plain])
    print(f"\nagent / plain time, per round: {ratio.text(3)}; {agent[0].patches} patches")
    deid = max(r.deid_seconds for r in agent)
    fastest = min(r.seconds for r in plain)
    print(
        f"de-identification took at most {deid:.3f} s,"
        f" {100 * deid / fastest:.2f}% of the fastest plain upload"
        " (the rest of the difference is the machine's noise: see the spread)"
    )
    print()
    holds = True
    ok = ratio.median <= RATIO_GOAL
    holds &= ok
    print(
        f"goal ratio agent / plain <= {RATIO_GOAL}: {'yes' if ok else 'NO'} (median"
        f" {ratio.median:.3f}, rounds {ratio.low:.3f}-{ratio.high:.3f})"
    )

    peak = max(r.peak_rss_mb for r in agent)
    ok = peak < MEMORY_GOAL_MB
    holds &= ok
    print(f"goal agent peak RSS < {MEMORY_GOAL_MB} MB: {'yes' if ok else 'NO'} ({peak:.1f} MB)")

    created = max(r.created_mb for r in agent)
    ok = created < CREATED_SHARE * twix.size / MB
    written = [r.written_mb for r in agent]
    baseline = [r.written_mb for r in plain]
    if None not in written and None not in baseline:
        most, least = max(written), min(baseline)  # type: ignore[type-var]
        ok = ok and most <= least + WRITE_SLACK_MB
        wrote = f"it wrote at most {most:.1f} MB to storage, the plain upload {least:.1f} MB"
    else:
        wrote = "this kernel does not count the bytes a process writes"
    holds &= ok
    print(
        f"goal no extra disk: {'yes' if ok else 'NO'} ({wrote}; it left {created:.3f} MB of"
        f" files; a copy would take {twix.size / MB:.1f} MB)"
    )
    return holds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=384, help="size of the TWIX file (MiB)")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds of both")
    parser.add_argument("--full", action="store_true", help="a 2 GiB file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--keep-file", action="store_true", help="leave the TWIX file in place at the end"
    )
    args = parser.parse_args(argv)
    if args.full:
        args.size_mib = 2048
    if args.size_mib < 1 or args.rounds < 1:
        parser.error("--size-mib and --rounds must be at least 1")

    work = Path(tempfile.mkdtemp(prefix="agent-bench-"))
    path = work / "meas_MID00102_FID01102_bench.dat"
    try:
        print(f"writing a {args.size_mib} MiB synthetic TWIX VE file ...", flush=True)
        twix = write_large_twix(path, args.size_mib, args.seed)
        print(
            f"wrote {twix.size / MB:.1f} MB ({twix.readouts} readouts) in {twix.seconds:.1f} s"
            f" at {twix.path}",
            flush=True,
        )
        with emulator_storage_off(work) as (endpoint, note):
            print(f"note: {note}", flush=True)
            bench = Bench(endpoint, work, twix)
            by_contender = run_rounds(
                CONTENDERS, args.rounds, bench.measure, say=lambda line: print(line, flush=True)
            )
            runs = [
                by_contender[name][number - 1]
                for number, name in interleaved(CONTENDERS, args.rounds)
            ]
            bench.check_patched(runs)
        holds = report(runs, twix)
        print(f"\nall goals hold: {'yes' if holds else 'NO'}")
    finally:
        if args.keep_file and path.exists():
            print(f"kept {path}")
            for leftover in work.iterdir():
                if leftover != path and leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
