"""The whole path stage by stage: the demo's run, then a ~500 MB raw file beside plain transfers.

First the ``scripts/demo`` command itself, timed as a user runs it (interpreter
start, venv check, start-up, the task, shut-down). Then two runs, each on a stack
the demo's own functions start (``scripts.demo.running``: the local cloud,
Orthanc, the site and its user, the agent):

1. the demo's run in this process: start-up, the phantom exported into the
   ORT folders, its stages until the images are in Orthanc, the result checked,
   everything stopped;
2. a raw file of about ``--size-mb`` MB, written by ``scripts.phantoms`` (a 3D
   TWIX VE scan: a larger matrix, 32 coils, 2x oversampled readout, noise scans,
   its partitions as many as the size needs) into a temporary folder, queued
   with ``yarracloud-agent submit`` as ``scripts/demo --file`` does and followed
   to Orthanc; on the same local cloud, the baseline, once before the task
   and once after it (so that a change of the machine's load falls on both
   sides): a plain ``transfer`` upload of the same file into a bucket of its
   own and its download, in this process. While the task runs, the memory of
   the whole worker (the worker's process and the program it runs, together)
   is sampled (``scripts.bench.memory``) and its peak printed beside the
   k-space's size.

Prints the time of each stage (since the task was queued, and the step from the
stage before) for both files, the demo's start-up and whole time with PASS/MISS
against 60 s, the throughput of the raw file through the whole path (MB/s of
raw data from queued to stored in the PACS), and the ratios against the
baseline: the whole path over a plain upload and download, and the agent's
de-identifying upload over the plain upload. Every figure is paid once per
task except the stack's start-up, printed apart (a site and a region start
once). The temporary folder, with the raw file, is deleted at the end.

    python -m scripts.bench.e2e [--size-mb 100] [--skip-large] [--full]

The large scan is 128 x 128 (256 x 256 with ``--full``, which also makes it
500 MB) with 32 coils; its writer takes several times its size in memory for a
moment (the figure is printed), and the default run about two minutes on two
cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3

from scripts import demo
from scripts.bench.memory import DescendantMemory
from scripts.bench.rounds import spread
from scripts.bench.transfer import run_measured
from scripts.local_cloud.cloud import REPO_ROOT
from transfer.download import download_object
from transfer.upload import upload_file

MB = 1e6
GOAL_SECONDS = 60.0
STAGES = (
    "DE-IDENTIFIED",
    "UPLOADED",
    "SUBMITTED",
    "RUNNING",
    "SUCCEEDED",
    "DOWNLOADED",
    "RE-IDENTIFIED",
    "STORED",
    "COMPLETED",
)
LARGE_MATRIX = 128
FULL_MATRIX = 256
FULL_SIZE_MB = 500.0
LARGE_COILS = 32
LARGE_MEMORY_MIB = 8192
WORKER_MARKER = b"recon_image"


@dataclass
class Measured:
    """One task through the path: its raw size, how it ended, and its stage times."""

    label: str
    size: int
    outcome: demo.Outcome


@dataclass
class WorkerMemory:
    """The whole worker's sampled peak (its processes together) and the k-space's size."""

    peak_bytes: int
    kspace_bytes: int


@dataclass
class Baseline:
    upload_s: float
    download_s: float

    @property
    def seconds(self) -> float:
        return self.upload_s + self.download_s


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The demo's own lines go to stderr, so this bench's table stands alone on stdout."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def run_command(work: Path, seed: int, matrix: int) -> tuple[float, int]:
    """``scripts/demo`` as a user runs it, output aside: its wall seconds and exit status."""
    command = [
        str(REPO_ROOT / "scripts" / "demo"),
        *("--work-dir", str(work / "command"), "--seed", str(seed), "--matrix", str(matrix)),
    ]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=REPO_ROOT, stdout=sys.stderr, stderr=sys.stderr, stdin=subprocess.DEVNULL
    )
    return time.perf_counter() - started, done.returncode


def run_demo(work: Path, seed: int, matrix: int) -> tuple[Measured, float, float, float, bool]:
    """The demo's run: its measurement, start-up, shut-down and whole seconds, and its result."""
    began = time.perf_counter()
    with quiet(), demo.running(work / "demo") as stack:
        started = time.perf_counter() - began
        queued = demo.queue_phantom(stack, seed, matrix)
        outcome = demo.follow(stack, queued, timeout=300)
        ok = demo.report(stack, queued, outcome, demo.SLICES)
        stopping = time.perf_counter()
    stopped = time.perf_counter() - stopping
    whole = time.perf_counter() - began
    return Measured("demo file", queued.size, outcome), started, stopped, whole, ok


def partition_bytes(matrix: int, coils: int) -> int:
    """Bytes a partition takes in a TWIX VE file: per line, every coil's 2x oversampled readout."""
    return matrix * (coils * (2 * matrix * 8 + 32) + 192)


def partitions_for(size_mb: float, matrix: int, coils: int) -> int:
    """Partitions of a 3D scan of about ``size_mb`` MB (at least two: a slab)."""
    return max(2, round(size_mb * MB / partition_bytes(matrix, coils)))


def kspace_bytes(matrix: int, partitions: int, coils: int) -> int:
    """complex64 k-space of the 3D scan: coils x partitions x lines x 2x oversampled readout."""
    return coils * partitions * matrix * 2 * matrix * 8


def write_large(
    path: Path, size_mb: float, seed: int, matrix: int = LARGE_MATRIX, coils: int = LARGE_COILS
) -> tuple[float, float]:
    """Write a 3D phantom TWIX VE of about ``size_mb`` MB; its seconds and the writer's peak RSS."""
    partitions = partitions_for(size_mb, matrix, coils)
    command = [
        sys.executable,
        "-m",
        "scripts.phantoms",
        str(path),
        "--format",
        "ve",
        "--dim",
        "3",
        "--oversampling",
        "2",
        "--noise-scans",
        "256",
        "--matrix",
        str(matrix),
        str(matrix),
        str(partitions),
        "--coils",
        str(coils),
        "--seed",
        str(seed),
    ]
    _, seconds, peak_mb = run_measured(command, dict(os.environ))
    return seconds, peak_mb


def run_large(work: Path, raw: Path) -> tuple[Measured, list[Baseline], bool, int]:
    """The large file through the path between two plain transfers on the same local cloud.

    Also returns the whole worker's peak memory in bytes, sampled while the task ran.
    """
    with quiet(), demo.running(work / "large", memory_mib=LARGE_MEMORY_MIB) as stack:
        before = plain_transfers(stack.env, raw, work / "downloaded.dat")
        queued = demo.queue_file(stack, raw, demo.MODE)
        with DescendantMemory(WORKER_MARKER) as worker:
            outcome = demo.follow(stack, queued, timeout=1800, since="the submit")
        ok = demo.report(stack, queued, outcome, None)
        after = plain_transfers(stack.env, raw, work / "downloaded.dat")
    return Measured("large file", queued.size, outcome), [before, after], ok, worker.peak_total


def plain_transfers(env: dict[str, str], raw: Path, dest: Path) -> Baseline:
    """``transfer``'s upload of ``raw`` into a bucket of its own and its download, timed."""
    s3 = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    bucket = f"bench-e2e-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": env["AWS_REGION"]}
    )
    started = time.perf_counter()
    upload_file(s3, raw, bucket, raw.name)
    uploaded = time.perf_counter()
    download_object(s3, bucket, raw.name, dest)
    downloaded = time.perf_counter()
    dest.unlink()
    s3.delete_object(Bucket=bucket, Key=raw.name)
    return Baseline(uploaded - started, downloaded - uploaded)


def stage_table(runs: list[Measured]) -> None:
    """Each stage's time since the task was queued, and its step from the stage before."""
    print(f"{'stage':<14}" + "".join(f" {m.label + ' s':>16} {'step s':>8}" for m in runs))
    last = [0.0] * len(runs)
    for stage in STAGES:
        cells = []
        for i, measured in enumerate(runs):
            at = measured.outcome.times.get(stage)
            if at is None:
                cells.append(f" {'-':>16} {'-':>8}")
                continue
            cells.append(f" {at:16.2f} {at - last[i]:8.2f}")
            last[i] = at
        print(f"{stage:<14}" + "".join(cells))
    print("(times since the task was queued in the ORT folders; a step is the time from the")
    print(" stage before; agent steps are seen when its journal is read, every 0.1 s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=float, default=100, help="size of the large raw file")
    parser.add_argument("--skip-large", action="store_true", help="the demo's run alone")
    parser.add_argument(
        "--large-matrix", type=int, default=LARGE_MATRIX, help="the large scan's image matrix"
    )
    parser.add_argument(
        "--large-coils", type=int, default=LARGE_COILS, help="the large scan's coils"
    )
    parser.add_argument("--matrix", type=int, default=128, help="the demo phantom's matrix")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--full", action="store_true", help=f"a {FULL_SIZE_MB:g} MB scan of {FULL_MATRIX}^2"
    )
    args = parser.parse_args(argv)
    if args.full:
        args.size_mb, args.large_matrix = FULL_SIZE_MB, FULL_MATRIX
    if not demo.ORTHANC_BINARY.exists():
        raise SystemExit(demo.INSTALL_ORTHANC)

    work = Path(tempfile.mkdtemp(prefix="e2e-bench-"))
    try:
        print("running scripts/demo (its own lines on stderr) ...", flush=True)
        command_s, command_rc = run_command(work, args.seed, args.matrix)
        print("running the demo's functions in this process ...", flush=True)
        measured, started, stopped, whole, demo_ok = run_demo(work, args.seed, args.matrix)
        runs = [measured]
        large: tuple[Measured, list[Baseline], bool, WorkerMemory] | None = None
        if not args.skip_large:
            raw = work / "meas_MID00500_FID00500_large.dat"
            print(
                f"writing a ~{args.size_mb:g} MB 3D TWIX VE with scripts.phantoms ...", flush=True
            )
            written_s, writer_mb = write_large(
                raw, args.size_mb, args.seed, args.large_matrix, args.large_coils
            )
            print(
                f"wrote {raw.stat().st_size / MB:.1f} MB in {written_s:.1f} s"
                f" (the writer's peak RSS {writer_mb:.0f} MB)",
                flush=True,
            )
            print("running it through the path, then the plain transfers ...", flush=True)
            big, baselines, big_ok, peak = run_large(work, raw)
            partitions = partitions_for(args.size_mb, args.large_matrix, args.large_coils)
            kspace = kspace_bytes(args.large_matrix, partitions, args.large_coils)
            large = big, baselines, big_ok, WorkerMemory(peak, kspace)
            runs.append(big)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    stage_table(runs)
    print()
    task = measured.outcome.times.get("COMPLETED", measured.outcome.seconds)
    print(
        f"demo: start-up {started:.1f} s, task {task:.1f} s ({measured.size / MB:.1f} MB raw),"
        f" shut-down {stopped:.1f} s; result {'ok' if demo_ok else 'NOT ok'}"
    )
    print(f"demo in this process, start-up and shut-down included: {whole:.1f} s")
    verdict = "PASS" if command_s < GOAL_SECONDS and command_rc == 0 else "MISS"
    print(
        f"demo whole run, the scripts/demo command as a user runs it: {command_s:.1f} s"
        f" (exit {command_rc}) — {verdict} against {GOAL_SECONDS:g} s"
    )
    if large is not None:
        big, baselines, big_ok, memory = large
        path_s = big.outcome.times.get("COMPLETED", big.outcome.seconds)
        upload_s = big.outcome.times.get("UPLOADED", 0.0)
        print(
            f"large: {big.size / MB:.1f} MB through the whole path in {path_s:.1f} s,"
            f" {big.size / MB / path_s:.1f} MB/s; result {'ok' if big_ok else 'NOT ok'}"
            + ("" if big.outcome.completed else f" ({big.outcome.error})")
        )
        for when, baseline in zip(("before", "after"), baselines, strict=True):
            up, down = baseline.upload_s, baseline.download_s
            print(
                f"baseline {when} the task, on the same local cloud: plain transfer upload"
                f" {up:.1f} s ({big.size / MB / up:.1f} MB/s) + download {down:.1f} s"
                f" ({big.size / MB / down:.1f} MB/s) = {baseline.seconds:.1f} s"
            )
        whole = spread([path_s / b.seconds for b in baselines])
        print(f"ratio whole path / plain upload + download: {whole.text(2, of='baselines')}")
        agent = spread([upload_s / b.upload_s for b in baselines])
        print(
            "ratio agent de-identify + upload (queued to UPLOADED) / plain upload:"
            f" {agent.text(2, of='baselines')}"
        )
        print("(left out: the stack's start-up and shut-down, paid once per site and region)")
        print(
            f"the whole worker's peak memory (its processes together, sampled every 0.1 s):"
            f" {memory.peak_bytes / MB:.0f} MB, {memory.peak_bytes / memory.kspace_bytes:.2f}x"
            f" the k-space ({memory.kspace_bytes / MB:.0f} MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
