"""Upload and download of one large file against moto on loopback, contender by contender.

Contenders: our ``transfer`` package (its defaults), boto3's TransferManager
with the default TransferConfig and tuned (16 MiB parts, 10 threads), and the
AWS Go SDK v2's upload manager and downloader (the ``s3peer`` test peer, built
offline; skipped with a note where Go or the SDK sources are missing). Each
measurement runs in a process of its own, so its peak RSS is its own. Every
download reads the same object, which ``transfer`` uploaded, and is checked
against the source's sha256.

Prints MB/s per contender and direction, the ratio to ``transfer`` and peak
RSS, and whether the goals hold: ``transfer`` at least as fast as the Go SDK
in both directions, and under 200 MB peak memory.

moto answers a ranged GET by copying the whole object under one lock, so its
download times grow with the number of ranges (larger parts fetch faster
there); against S3 that cost does not exist. Compare downloads with that in mind.

    python -m scripts.bench.transfer [--size-mib 1024]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3

from scripts.local_cloud.emulator import REPO_ROOT, Emulator

MIB = 1024 * 1024
REGION = "eu-central-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
PYTHON_CONTENDERS = ("transfer", "boto3-default", "boto3-tuned")
GO = "go-sdk"
MEMORY_GOAL_MB = 200


@dataclass
class Result:
    contender: str
    direction: str
    seconds: float
    size: int
    peak_rss_mb: float

    @property
    def mb_per_s(self) -> float:
        return self.size / self.seconds / 1e6


def write_source(path: Path, size_mib: int, seed: int) -> str:
    """A seeded random file, written in 1 MiB chunks; returns its sha256."""
    rng = random.Random(seed)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size_mib):
            chunk = rng.randbytes(MIB)
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(MIB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def run_measured(command: list[str], env: dict[str, str]) -> tuple[str, float, float]:
    """Run ``command``; its stdout, wall seconds and peak RSS in MB (its own, from wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=REPO_ROOT)
        # wait4 reaps this child alone and returns its own resource usage.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:6])} failed ({process.returncode}): {stderr.strip()}"
        )
    return stdout, seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


class Bench:
    def __init__(self, endpoint: str, work: Path, source: Path, source_sha256: str) -> None:
        self.endpoint = endpoint
        self.work = work
        self.source = source
        self.source_sha256 = source_sha256
        self.bucket = f"bench-{uuid.uuid4().hex[:12]}"
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

    def _command(self, contender: str, direction: str, key: str, path: Path, go: Path | None):
        if contender == GO:
            assert go is not None
            return [str(go), direction, self.bucket, key, str(path)]
        return [
            sys.executable,
            "-m",
            "scripts.bench.transfer_driver",
            contender,
            direction,
            self.bucket,
            key,
            str(path),
            "--endpoint-url",
            self.endpoint,
        ]

    def measure(
        self, contender: str, direction: str, key: str, path: Path, go: Path | None = None
    ) -> Result:
        command = self._command(contender, direction, key, path, go)
        stdout, wall, peak = run_measured(command, self.env)
        size = self.source.stat().st_size
        # The Python driver times the transfer alone; the Go peer is timed from outside
        # (its start-up and one HEAD request are in it, a few milliseconds).
        seconds = json.loads(stdout)["seconds"] if contender != GO else wall
        return Result(contender, direction, seconds, size, peak)

    def upload(self, contender: str, go: Path | None) -> Result:
        key = f"upload/{contender}.dat"
        result = self.measure(contender, "upload", key, self.source, go)
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        if head["ContentLength"] != self.source.stat().st_size:
            raise RuntimeError(f"{contender} uploaded {head['ContentLength']} bytes")
        self.s3.delete_object(Bucket=self.bucket, Key=key)  # the emulator keeps it in memory
        return result

    def download(self, contender: str, key: str, go: Path | None) -> Result:
        dest = self.work / f"download-{contender}.dat"
        result = self.measure(contender, "download", key, dest, go)
        if sha256_of(dest) != self.source_sha256:
            raise RuntimeError(f"{contender} downloaded a file that differs from the source")
        dest.unlink()
        return result


def build_go_peer(cache: Path) -> tuple[Path | None, str]:
    """The Go peer's binary, or None and why not."""
    try:
        from tests.helpers.go import GoUnavailable, build_s3peer
    except ImportError as missing:
        return None, f"the Go peer's builder is not importable: {missing}"
    try:
        return build_s3peer(cache), ""
    except GoUnavailable as missing:
        return None, str(missing)
    except RuntimeError as failed:
        return None, str(failed).splitlines()[0]


def report(results: list[Result], go_note: str) -> bool:
    """Print the table and the goals; True when every goal holds."""
    print()
    header = ("direction", "contender", "seconds", "MB/s", "ratio", "peak RSS MB")
    print("{:<9} {:<14} {:>8} {:>8} {:>7} {:>12}".format(*header))
    ours = {r.direction: r for r in results if r.contender == "transfer"}
    for result in results:
        ratio = result.mb_per_s / ours[result.direction].mb_per_s
        print(
            f"{result.direction:<9} {result.contender:<14} {result.seconds:8.2f}"
            f" {result.mb_per_s:8.1f} {ratio:7.2f} {result.peak_rss_mb:12.1f}"
        )
    print("(ratio: throughput relative to transfer in the same direction)")
    if go_note:
        print(f"note: Go SDK skipped: {go_note}")
    print()
    holds = True
    go = {r.direction: r for r in results if r.contender == GO}
    for direction, mine in ours.items():
        if direction in go:
            ok = mine.mb_per_s >= go[direction].mb_per_s
            holds &= ok
            print(
                f"goal {direction} throughput >= Go SDK: {'yes' if ok else 'NO'}"
                f" ({mine.mb_per_s:.1f} vs {go[direction].mb_per_s:.1f} MB/s)"
            )
        else:
            print(f"goal {direction} throughput >= Go SDK: not measured (no Go)")
        ok = mine.peak_rss_mb < MEMORY_GOAL_MB
        holds &= ok
        print(
            f"goal {direction} peak memory < {MEMORY_GOAL_MB} MB: {'yes' if ok else 'NO'}"
            f" ({mine.peak_rss_mb:.1f} MB)"
        )
    return holds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the file (MiB)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="transfer-bench-") as tmp:
        work = Path(tmp)
        source = work / "source.dat"
        print(f"writing a {args.size_mib} MiB seeded random file ...", flush=True)
        source_sha256 = write_source(source, args.size_mib, args.seed)
        go, go_note = build_go_peer(Path(tempfile.gettempdir()) / "yarracloud-go-cache")
        contenders = [*PYTHON_CONTENDERS, *([GO] if go else [])]
        if go_note:
            print(f"note: the Go SDK is skipped: {go_note}", flush=True)

        results: list[Result] = []
        with Emulator() as emulator:
            bench = Bench(emulator.endpoint, work, source, source_sha256)
            for contender in contenders:
                print(f"upload   {contender} ...", flush=True)
                results.append(bench.upload(contender, go))
            # Every download reads one object that transfer uploaded (sha256 metadata).
            shared = "download/source.dat"
            bench.measure("transfer", "upload", shared, source)
            for contender in contenders:
                print(f"download {contender} ...", flush=True)
                results.append(bench.download(contender, shared, go))
        holds = report(results, go_note)
        print(f"\nall goals hold: {'yes' if holds else 'NO'}")


if __name__ == "__main__":
    main()
