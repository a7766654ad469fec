"""Upload and download of one large file against moto on loopback, interleaved round by round.

Contenders: our ``transfer`` package (its defaults), boto3's TransferManager
with the default TransferConfig and tuned (16 MiB parts, 10 threads), and the
AWS Go SDK v2's upload manager and downloader (the ``s3peer`` test peer, built
offline; skipped with a note where Go or the SDK sources are missing). For
downloads, one more: ``http-ranges``, the ranges ``transfer`` asks for (its
part size, as many at once) from a plain HTTP file server in this process
(``scripts.bench.range_server``), the floor for those bytes on this machine
without S3. Each measurement runs in a process of its own, so its peak RSS is
its own; every contender runs once a round, in forward order in odd rounds and
reversed in even ones, so a change of the machine's load falls on all. Every
download reads the same object, which ``transfer`` uploaded, and is checked
against the source's sha256.

Prints, per direction and contender, the median seconds and MB/s with their
spread over the rounds, the per-round throughput ratio to ``transfer`` with its
spread, and peak RSS; then the goals: ``transfer`` at least as fast as the Go
SDK in both directions (median of per-round ratios), and under 200 MB peak
memory. The Python contenders' times start once the client is made and has
connected (a process start-up a long-running agent or worker pays once); the
Go peer is timed from outside, its process start included.

The local cloud serves a ranged GET from its range alone
(``scripts/local_cloud/s3_ranges.py``; moto by itself copies the whole object
for every range), but still through one Python process that parses, signs and
copies every request: ``download transfer / http-ranges`` says how far the
local S3 is from the bytes' floor; against S3 that cost is not there.

    python -m scripts.bench.transfer [--size-mib 128] [--rounds 3] [--full]

The default run takes two to three minutes; ``--full`` moves 1 GiB.
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
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3

from scripts.bench.range_server import serve
from scripts.bench.rounds import ratio_spread, run_rounds, spread
from scripts.local_cloud.emulator import REPO_ROOT, Emulator

MIB = 1024 * 1024
REGION = "eu-central-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
PYTHON_CONTENDERS = ("transfer", "boto3-default", "boto3-tuned")
GO = "go-sdk"
PLAIN_HTTP = "http-ranges"
MEMORY_GOAL_MB = 200


@dataclass
class Result:
    contender: str
    direction: str
    round: int
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


# Started between a bench and the command it measures: Linux keeps a process's peak
# resident memory across exec, so a command forked from a bench starts with the bench's
# peak as its own. Spawned from this small interpreter instead, it starts from this one's.
_LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(sys.argv[1], "w") as out:
    out.write(f"{seconds} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


def run_measured(command: list[str], env: dict[str, str]) -> tuple[str, float, float]:
    """Run ``command``; its stdout, wall seconds and peak RSS in MB (its own, from wait4).

    The command is spawned by a small launcher that waits for it, so its peak
    is its own and not this process's (see ``_LAUNCHER``); the seconds are the
    launcher's, from the spawn to the command's end.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as figures,
    ):
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, figures.name]
        done = subprocess.run([*launcher, *command], stdout=out, stderr=err, env=env, cwd=REPO_ROOT)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command[:6])} failed ({done.returncode}): {stderr.strip()}"
            )
        seconds, peak_kib = figures.read().split()
    return stdout, float(seconds), int(peak_kib) / 1024  # ru_maxrss is in KiB on Linux


class Bench:
    def __init__(
        self, endpoint: str, work: Path, source: Path, source_sha256: str, plain_url: str
    ) -> None:
        self.endpoint = endpoint
        self.plain_url = plain_url
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
        url = ["--url", f"{self.plain_url}/{self.source.name}"] if contender == PLAIN_HTTP else []
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
            *url,
        ]

    def measure(
        self,
        contender: str,
        direction: str,
        key: str,
        path: Path,
        go: Path | None = None,
        round_number: int = 0,
    ) -> Result:
        command = self._command(contender, direction, key, path, go)
        stdout, wall, peak = run_measured(command, self.env)
        size = self.source.stat().st_size
        # The Python driver times the transfer alone; the Go peer is timed from outside
        # (its start-up and one HEAD request are in it, a few milliseconds).
        seconds = json.loads(stdout)["seconds"] if contender != GO else wall
        return Result(contender, direction, round_number, seconds, size, peak)

    def upload(self, contender: str, go: Path | None, round_number: int) -> Result:
        key = f"upload/{contender}.dat"
        result = self.measure(contender, "upload", key, self.source, go, round_number)
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        if head["ContentLength"] != self.source.stat().st_size:
            raise RuntimeError(f"{contender} uploaded {head['ContentLength']} bytes")
        self.s3.delete_object(Bucket=self.bucket, Key=key)  # the emulator keeps it in memory
        return result

    def download(self, contender: str, key: str, go: Path | None, round_number: int) -> Result:
        dest = self.work / f"download-{contender}.dat"
        result = self.measure(contender, "download", key, dest, go, round_number)
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
    rounds = max(r.round for r in results)
    print(f"\n{rounds} rounds, interleaved; figures are medians (lowest-highest over the rounds)")
    header = ("direction", "contender", "seconds", "MB/s", "vs transfer", "peak RSS MB")
    print("{:<9} {:<14} {:>8} {:>22} {:>18} {:>12}".format(*header))
    by = {}
    for r in results:
        by.setdefault((r.direction, r.contender), []).append(r)
    for runs in by.values():
        runs.sort(key=lambda r: r.round)
    ratios = {}
    for (direction, contender), runs in by.items():
        ours = by[(direction, "transfer")]
        ratio = ratio_spread([r.mb_per_s for r in runs], [r.mb_per_s for r in ours])
        ratios[(direction, contender)] = ratio
        seconds = spread([r.seconds for r in runs]).median
        print(
            f"{direction:<9} {contender:<14} {seconds:8.2f}"
            f" {spread([r.mb_per_s for r in runs]).short(1):>22}"
            f" {ratio.short(2):>18} {max(r.peak_rss_mb for r in runs):12.1f}"
        )
    print(
        "(vs transfer: per-round throughput over transfer's in the same round and direction;"
        " left out of the Python contenders' time: their process start and first connection,"
        " paid once by a long-running agent or worker; the Go peer is timed from outside,"
        " its process start included)"
    )
    if go_note:
        print(f"note: Go SDK skipped: {go_note}")
    floor = ratios.get(("download", PLAIN_HTTP))
    if floor is not None:
        print(
            "download time, transfer from the local S3 / the same ranges from a plain file"
            f" server: {floor.text(2)}"
        )
    print()
    holds = True
    for direction in ("upload", "download"):
        if (direction, GO) in ratios:
            go = ratios[(direction, GO)]
            ok = go.median <= 1.0
            holds &= ok
            print(
                f"goal {direction} throughput >= Go SDK: {'yes' if ok else 'NO'}"
                f" (Go SDK / transfer {go.text(2)})"
            )
        else:
            print(f"goal {direction} throughput >= Go SDK: not measured (no Go)")
        peak = max(r.peak_rss_mb for r in by[(direction, "transfer")])
        ok = peak < MEMORY_GOAL_MB
        holds &= ok
        print(
            f"goal {direction} peak memory < {MEMORY_GOAL_MB} MB: {'yes' if ok else 'NO'}"
            f" ({peak:.1f} MB)"
        )
    return holds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=128, help="size of the file (MiB)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="a 1 GiB file")
    args = parser.parse_args()
    if args.full:
        args.size_mib = 1024

    with tempfile.TemporaryDirectory(prefix="transfer-bench-") as tmp:
        work = Path(tmp)
        source = work / "source.dat"
        print(f"writing a {args.size_mib} MiB seeded random file ...", flush=True)
        source_sha256 = write_source(source, args.size_mib, args.seed)
        go, go_note = build_go_peer(Path(tempfile.gettempdir()) / "yarracloud-go-cache")
        contenders = [*PYTHON_CONTENDERS, *([GO] if go else [])]
        if go_note:
            print(f"note: the Go SDK is skipped: {go_note}", flush=True)

        with Emulator() as emulator, serve(work) as plain_url:
            bench = Bench(emulator.endpoint, work, source, source_sha256, plain_url)
            # Every download reads one object that transfer uploaded (sha256 metadata).
            shared = "download/source.dat"
            bench.measure("transfer", "upload", shared, source)
            names = [f"upload {c}" for c in contenders]
            names += [f"download {c}" for c in [*contenders, PLAIN_HTTP]]

            def measure(round_number: int, name: str) -> Result:
                direction, contender = name.split()
                if direction == "upload":
                    return bench.upload(contender, go, round_number)
                return bench.download(contender, shared, go, round_number)

            measured = run_rounds(
                names, args.rounds, measure, say=lambda line: print(line, flush=True)
            )
        results = [r for runs in measured.values() for r in runs]
        holds = report(results, go_note)
        print(f"\nall goals hold: {'yes' if holds else 'NO'}")


if __name__ == "__main__":
    main()
