"""The worker as Batch runs it, beside the floor for the same file, in the same run.

    python -m scripts.bench.worker [--full] [--rounds N] [--phantoms DIR] [--profile] [--image REF]

For each 3D 32-coil TWIX VE phantom (0.5 and 1 GiB; ``--full`` adds 2 GiB), with 64
noise-adjustment readouts so that prewhitening is part of the work:

- **worker**: ``python -m recon_image`` with the built-in ``yc_cartesian`` mode against the
  local cloud, each stage timed from its log (download, read, reconstruct, DICOM write,
  upload), with the peak RSS of the worker and its mode's program;
- **floor**: the same file read from the page cache into memory, and a planned FFTW
  transform of an array of the file's k-space shape with root-sum-of-squares (planning
  off the clock, as the worker's is: its image carries wisdom, which the bench makes for
  the phantoms' shapes first, as the image build does);
- **plain download**: the same ranged reads the worker makes (``transfer``'s range size and
  count in flight) served by a plain HTTP file server from the same file, to judge the
  worker's download by.

First, where a container engine answers, the images' sizes and the worker's start-up as
its container beside its subprocess (``scripts.bench.images``).

Contenders alternate round by round (worker, floor; floor, worker; ...), and every ratio is
printed as its median with the spread over rounds. Writing the phantoms (a minute and a
half for the default two) is timed apart and is not part of any figure. They are written
once and kept, with their wisdom, for later runs in ``--phantoms`` (by default
``~/.cache/yarracloud/bench-worker``; 1.6 GB, 3.8 GB with ``--full``: delete it to reclaim
the space). Their names carry every parameter they were written with.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import http.server
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COILS = 32
NOISE_SCANS = 64
NOISE_SIGMA = 0.01
SEED = 24
USER = "bench-user"
# (readout, phase lines, partitions) of a 3D phantom of about the size, readout 2x oversampled.
MATRICES = {0.5: (128, 128, 64), 1.0: (128, 128, 128), 2.0: (256, 128, 128)}
_STEP_LINE = re.compile(
    r"read (?P<read>[\d.]+) s, reconstruction (?P<reconstruct>[\d.]+) s,"
    r" DICOM write (?P<write>[\d.]+) s"
)


@dataclass
class Figures:
    """One contender's seconds over rounds, by stage."""

    stages: dict[str, list[float]] = field(default_factory=dict)
    peak_bytes: int = 0

    def add(self, stage: str, seconds: float) -> None:
        self.stages.setdefault(stage, []).append(seconds)

    def median(self, stage: str) -> float:
        return statistics.median(self.stages[stage])


def kspace_shape(size: float) -> tuple[int, int, int, int]:
    read, lines, partitions = MATRICES[size]
    return COILS, partitions, lines, 2 * read


def phantom_name(size: float) -> str:
    read, lines, partitions = MATRICES[size]
    return (
        f"worker-{size:g}gib-{read}x{lines}x{partitions}-{COILS}coils"
        f"-{NOISE_SCANS}noise{NOISE_SIGMA:g}-seed{SEED}.dat"
    )


def default_phantoms() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "yarracloud" / "bench-worker"


def write_phantom(size: float, path: Path) -> float:
    """Write the phantom of ``size`` to ``path`` (through a partial file); its seconds."""
    read, lines, partitions = MATRICES[size]
    partial = path.with_name(f".{path.name}.partial")
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.phantoms",
            str(partial),
            "--format",
            "ve",
            "--dim",
            "3",
            "--matrix",
            str(read),
            str(lines),
            str(partitions),
            "--coils",
            str(COILS),
            "--oversampling",
            "2",
            "--noise-scans",
            str(NOISE_SCANS),
            "--noise-sigma",
            str(NOISE_SIGMA),
            "--seed",
            str(SEED),
        ],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    partial.replace(path)
    return time.perf_counter() - start


# --- the floor ------------------------------------------------------------------------------


def floor_child(raw: Path, shape: tuple[int, ...], threads: int) -> dict:
    """Read ``raw`` from the page cache, then a planned FFT + RSS of ``shape``; in this process."""
    import numpy as np
    import pyfftw

    from recon_image.pipeline.coils import rss

    data = pyfftw.empty_aligned(shape, dtype=np.complex64)
    plan_start = time.perf_counter()
    plan = pyfftw.FFTW(
        data,
        data,
        axes=(1, 2, 3),
        direction="FFTW_BACKWARD",
        flags=("FFTW_MEASURE",),
        threads=threads,
    )
    plan_s = time.perf_counter() - plan_start
    data[...] = 1.0 + 0.5j
    data[..., ::3] = 0.25
    buffer = bytearray(raw.stat().st_size)
    with open(raw, "rb", buffering=0) as fh:  # into the page cache, off the clock
        fh.readinto(buffer)
    start = time.perf_counter()
    with open(raw, "rb", buffering=0) as fh:
        view = memoryview(buffer)
        got = 0
        while got < len(buffer):
            got += fh.readinto(view[got:])
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    plan.execute()
    rss(data)
    fft_s = time.perf_counter() - start
    return {"read": read_s, "fft_rss": fft_s, "plan": plan_s}


def run_floor(raw: Path, shape: tuple[int, ...], threads: int) -> tuple[dict, int]:
    command = [sys.executable, "-m", "scripts.bench.worker", "--floor-of", str(raw)]
    command += ["--shape", ",".join(map(str, shape)), "--threads", str(threads)]
    stdout, peak = _run_measured(command, os.environ.copy())
    return json.loads(stdout.splitlines()[-1]), peak


# --- a plain HTTP file server and the same ranged reads -----------------------------------


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    path_served: Path

    def do_GET(self) -> None:
        size = self.path_served.stat().st_size
        first, last = (int(n) for n in self.headers["Range"].split("=")[1].split("-"))
        last = min(last, size - 1)
        self.send_response(206)
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        with open(self.path_served, "rb") as fh:
            os.sendfile(self.wfile.fileno(), fh.fileno(), first, last - first + 1)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def file_server(path: Path) -> Iterator[int]:
    handler = type("Handler", (_RangeHandler,), {"path_served": path})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def plain_download(port: int, size: int, dest: Path) -> float:
    """The worker's ranged reads, as many at a time, into ``dest``."""
    from transfer.download import DOWNLOAD_CONCURRENCY, DOWNLOAD_PART_SIZE
    from transfer.parallel import run_bounded

    local = threading.local()
    start = time.perf_counter()
    fd = os.open(dest, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.ftruncate(fd, size)

        def fetch(number: int) -> None:
            if not hasattr(local, "connection"):
                local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            first = number * DOWNLOAD_PART_SIZE
            last = min(size, first + DOWNLOAD_PART_SIZE) - 1
            local.connection.request("GET", "/raw", headers={"Range": f"bytes={first}-{last}"})
            response = local.connection.getresponse()
            offset = first
            while chunk := response.read(1 << 20):
                os.pwrite(fd, chunk, offset)
                offset += len(chunk)
            if offset != last + 1:
                raise RuntimeError(f"short read at {first}")

        run_bounded(fetch, range(-(-size // DOWNLOAD_PART_SIZE)), DOWNLOAD_CONCURRENCY, "plain")
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - start
    dest.unlink()
    return seconds


# --- the worker -------------------------------------------------------------------------------


def _run_measured(command: list[str], env: dict[str, str]) -> tuple[str, int]:
    """Run ``command``; its output and the peak RSS of it and the descendants it waited for."""
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if process.returncode:
        raise SystemExit(f"{' '.join(command[:4])} failed ({process.returncode}):\n{text[-3000:]}")
    return text, usage.ru_maxrss * 1024


class LocalJob:
    """One uploaded task in the emulator and the environment Batch would give its worker."""

    def __init__(self, endpoint: str, raw: Path, work: Path, wisdom: Path) -> None:
        import boto3

        from transfer.upload import upload_file

        self.s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        suffix = uuid.uuid4().hex[:8]
        self.in_bucket, self.out_bucket = f"bench-in-{suffix}", f"bench-out-{suffix}"
        for bucket in (self.in_bucket, self.out_bucket):
            self.s3.create_bucket(Bucket=bucket)
        self.task_id = str(uuid.uuid4())
        prefix = f"{USER}/{self.task_id}/"
        upload_file(self.s3, raw, self.in_bucket, f"{prefix}{self.task_id}.dat")
        task = (
            f"[Task]\nReconMode=yc_cartesian\nScanFile={self.task_id}.dat\nAdjustmentFilesCount=0\n"
            f"ParamValue=0\nUUID={self.task_id}\n[Information]\nScanFileSize={raw.stat().st_size}\n"
        )
        self.s3.put_object(Bucket=self.in_bucket, Key=f"{prefix}{self.task_id}.task", Body=task)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work),
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "YC_TASK_UUID": self.task_id,
            "YC_USER": USER,
            "YC_INPUT": f"s3://{self.in_bucket}/{prefix}",
            "YC_OUTPUT": f"s3://{self.out_bucket}/{prefix}",
            "YC_MODE": "yc_cartesian",
            "YC_PARAM": "0",
            "YC_VCPUS": str(os.cpu_count() or 1),
            "YC_WORK_DIR": str(work),
            "YC_FFTW_WISDOM": str(wisdom),
        }

    def run(self) -> tuple[dict[str, float], int]:
        """Run the worker once; its stage seconds and its peak RSS."""
        start = time.perf_counter()
        output, peak = _run_measured([sys.executable, "-m", "recon_image"], self.env)
        stages = {"whole": time.perf_counter() - start}
        for line in output.splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                message = entry.get("message", "")
                if message == "inputs downloaded":
                    stages["download"] = entry["seconds"]
                elif message == "outputs uploaded":
                    stages["upload"] = entry["seconds"]
                elif match := _STEP_LINE.search(message):
                    stages.update({k: float(v) for k, v in match.groupdict().items()})
        missing = {"download", "read", "reconstruct", "write", "upload"} - set(stages)
        if missing:
            raise SystemExit(f"the worker's log lacks {sorted(missing)}:\n{output[-3000:]}")
        return stages, peak


def make_wisdom(sizes: list[float], path: Path) -> float:
    """The image build's wisdom for the phantoms' protocols (all supported ones); its seconds."""
    command = [sys.executable, "-m", "recon_image.pipeline.wisdom", str(path), "--only"]
    for size in sizes:
        read, lines, partitions = MATRICES[size]
        command += ["--slab", f"{partitions},{lines},{read}"]
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


# --- the report ---------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def ratios(numerators: list[float], denominators: list[float]) -> list[float]:
    return [a / b for a, b in zip(numerators, denominators, strict=True)]


def report(size: float, nbytes: int, worker: Figures, floor: Figures, plain: list[float]) -> None:
    w, f = worker.stages, floor.stages
    net = [whole - dl for whole, dl in zip(w["whole"], w["download"], strict=True)]
    floor_total = [r + t for r, t in zip(f["read"], f["fft_rss"], strict=True)]
    print(f"\n{size:g} GiB TWIX ({nbytes / 1e6:,.0f} MB), k-space {kspace_shape(size)}:")
    print(f"  {'stage':<34} {'seconds: median (min-max)':>28}")
    for label, values in (
        ("worker download", w["download"]),
        ("worker read", w["read"]),
        ("worker reconstruct", w["reconstruct"]),
        ("worker DICOM write", w["write"]),
        ("worker upload", w["upload"]),
        ("worker whole run", w["whole"]),
        ("worker whole run less download", net),
        ("floor read (page cache)", f["read"]),
        ("floor FFTW FFT + RSS", f["fft_rss"]),
        ("floor total", floor_total),
        ("plain HTTP ranged download", plain),
    ):
        print(f"  {label:<34} {spread(values):>28}")
    print(f"  {'floor planning (off the clock)':<34} {spread(f['plan']):>28}")
    print(
        f"  worker less download / floor: {spread(ratios(net, floor_total))} (goal <= 2)"
        f"; download / plain: {spread(ratios(w['download'], plain))} (goal <= 2)"
    )
    print(
        f"  peak RSS: worker {worker.peak_bytes / 1e6:,.0f} MB"
        f" ({worker.peak_bytes / nbytes:.2f}x the file), floor {floor.peak_bytes / 1e6:,.0f} MB"
    )


def profile(raw: Path, wisdom: Path, threads: int, top: int = 18) -> None:
    """Profile the worker's program (read, reconstruct, DICOM write) on ``raw``."""
    import cProfile
    import pstats

    from recon_image.programs.cartesian import reconstruct_file

    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory(dir=raw.parent) as out:
        profiler.runcall(reconstruct_file, raw, Path(out), threads=threads, wisdom=wisdom)
    print(f"\nprofile of the worker's program on {raw.stat().st_size / 1e6:,.0f} MB:")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="add the 2 GiB file")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per file (default 2)")
    parser.add_argument(
        "--phantoms",
        type=Path,
        default=default_phantoms(),
        help="where the phantoms are kept between runs (default %(default)s)",
    )
    parser.add_argument("--profile", action="store_true", help="profile the largest file's run")
    parser.add_argument("--image", help="time this built worker image instead of building one")
    parser.add_argument(
        "--image-rounds", type=int, default=5, help="start-up rounds per contender (default 5)"
    )
    parser.add_argument("--sizes", type=float, nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--floor-of", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    if args.floor_of:
        shape = tuple(int(n) for n in args.shape.split(","))
        print(json.dumps(floor_child(args.floor_of, shape, args.threads)))
        return 0

    from scripts.bench import images
    from scripts.local_cloud.emulator import Emulator

    if engine := images.find_engine():
        images.report(engine, images.built_images(engine, args.image), args.image_rounds)
    else:
        print("no container engine answers here: the image figures are left out")
    sizes = args.sizes or ([0.5, 1.0, 2.0] if args.full else [0.5, 1.0])
    phantoms = args.phantoms
    phantoms.mkdir(parents=True, exist_ok=True)
    print(f"phantoms and their wisdom kept in {phantoms}")
    wisdom = phantoms / "fftw.wisdom"  # kept wisdom is extended: known shapes are quick
    print("making FFTW wisdom for the phantoms' shapes, as the image build does ...")
    print(f"  made in {make_wisdom(sizes, wisdom):.0f} s", flush=True)
    with Emulator() as emulator:
        for size in sizes:
            raw = phantoms / phantom_name(size)
            if not raw.exists():
                print(f"writing a {size:g} GiB 3D {COILS}-coil TWIX ...", flush=True)
                print(f"  written in {write_phantom(size, raw):.0f} s", flush=True)
            nbytes = raw.stat().st_size
            job_dir = Path(tempfile.mkdtemp(prefix="bench-worker-job-", dir=phantoms))
            job = LocalJob(emulator.endpoint, raw, job_dir, wisdom)
            worker, floor, plain = Figures(), Figures(), []
            with file_server(raw) as port:
                for round_ in range(args.rounds):
                    order = ("worker", "floor") if round_ % 2 == 0 else ("floor", "worker")
                    for contender in order:
                        print(f"  {size:g} GiB round {round_ + 1}: {contender}", flush=True)
                        if contender == "worker":
                            stages, peak = job.run()
                            for stage, seconds in stages.items():
                                worker.add(stage, seconds)
                            worker.peak_bytes = max(worker.peak_bytes, peak)
                            plain.append(plain_download(port, nbytes, job_dir / "plain"))
                        else:
                            figures, peak = run_floor(raw, kspace_shape(size), args.threads)
                            for stage, seconds in figures.items():
                                floor.add(stage, seconds)
                            floor.peak_bytes = max(floor.peak_bytes, peak)
            shutil.rmtree(job_dir, ignore_errors=True)
            report(size, nbytes, worker, floor, plain)
    if args.profile:
        profile(phantoms / phantom_name(max(sizes)), wisdom, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
