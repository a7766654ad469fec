"""The Cartesian pipeline against bare FFTs, and the worker's program on a 3D TWIX file.

Two cases of complex64 phantom k-space held in arrays (a Shepp-Logan seen by
32 coils, with noise and noise scans), at ``--scale`` 0.25 by default, 1 with
``--full``:

- 3D: 32 coils x (128 partitions, 256 lines, 256 readout samples) x scale;
- 2D: 32 coils x 40 slices x (256 lines, 512 readout samples, 2x oversampled) x scale.

Contenders, each run as one job: a process of its own per run, so that it pays
what a job pays (FFTW planning included) and its peak memory is its own:

- ``pipeline``: ``recon_image.pipeline.cartesian`` ``prepare`` and
  ``reconstruct``, prewhitening through coil combination (RSS), with FFTW
  wisdom loaded as the worker loads it (``YC_FFTW_WISDOM``, by default the
  image's file). Where neither is here, the bench first plans the cases'
  shapes as the image build plans its protocols (``recon_image.pipeline.wisdom
  --slab/--slices``), off the clock: a job never pays for planning;
- ``pipeline-cc12``: the same with coil compression to 12 virtual coils, and
  its image difference (NRMSE) from the uncompressed result, in the object
  (pixels where the phantom has signal) and over the whole image. The goal is
  judged in the object: over the whole image the figure also counts the
  background's noise floor, which root-sum-of-squares raises with every coil
  it combines, so 12 coils leave a lower floor than 32 — a difference, but no
  loss of image content;
- ``fftw``: the bare baseline, one in-place pyfftw FFTW_MEASURE plan over all
  coils and the encoded axes, then RSS (the pipeline's chunked RSS routine);
- ``numpy``: ``numpy.fft.ifftn`` and the same RSS;
- ``bart``: the ``bart fft -i`` command on .cfl/.hdr files, kept on tmpfs
  (``/dev/shm``) where it has room, so that it reads and writes memory as the
  others do; its file reading and writing, timed apart (a read of its input
  and a write of as many bytes), is printed beside it.

Each time is planning (or start-up) and work together; the planning part is
printed beside it. The array cases load k-space straight into memory (the
load is outside the clock, a reader's cost is not theirs), so their peak
memory is the pipeline's alone.

The third case is the worker's own step on a 3D TWIX VE file written by
``scripts.phantoms`` (32 coils, 2x oversampled readout, noise scans): the
program a mode runs (``python -m recon_image.programs.cartesian FILE OUT``),
timed from outside as a job pays it (interpreter start, the reader, the
reconstruction, the DICOM series written), its read and reconstruction seconds
from its log, and its peak RSS, which is the worker's peak (the worker's own
process holds no k-space). Beside it, the floor for the same file and array:
the file read from the page cache plus an FFTW plan, FFT and RSS.

GFLOP/s counts 5 N log2 N per transform of the bare FFT (N = points per
transform) for every contender, so the figures compare time for the same job.
Contenders run once a round for ``--rounds`` rounds, interleaved (forward order
in odd rounds, reversed in even ones); figures are medians, ratios are
per-round ratios over the baseline of the same round, printed with their spread.

Goals: the pipeline within 2x of the bare FFT + RSS; with compression to 12
virtual coils faster than the bare 32-coil FFT + RSS at under 2% image
difference; at least 3x faster than the ``bart fft`` command; peak memory
under 3x the k-space size (the worker's program, from the file, included).

    python -m scripts.bench.recon [--scale 0.25] [--threads N] [--cases 3d,2d,twix] [--rounds 2]
        [--full]

The default run takes about two minutes; ``--full`` runs the full sizes (2 GiB
of 3D k-space).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recon_image.pipeline import fft
from recon_image.pipeline.cartesian import CartesianOptions, prepare, reconstruct
from recon_image.pipeline.coils import rss
from recon_image.raw.kspace import KSpace, Protocol, SliceGeometry
from scripts.bench.rounds import Spread, ratio_spread, run_rounds, spread
from scripts.bench.transfer import run_measured
from scripts.phantoms.numeric import coil_maps, nrmse, oversample, shepp_logan

COILS = 32
CONTENDERS = ("pipeline", "pipeline-cc12", "fftw", "numpy", "bart")
TWIX_CONTENDERS = ("program", "floor")
SHM = Path("/dev/shm")
NOISE_SCAN_SAMPLES = 8192
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@dataclass(frozen=True)
class Case:
    name: str
    dimension: int
    z: int
    lines: int
    columns: int
    oversampling: int

    @property
    def wide(self) -> int:
        return self.columns * self.oversampling

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (COILS, self.z, self.lines, self.wide)

    @property
    def axes(self) -> tuple[int, ...]:
        """Encoded axes of the (coils, z, lines, wide) array."""
        return (1, 2, 3) if self.dimension == 3 else (2, 3)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * 8

    def gflop(self) -> float:
        points = math.prod(self.shape[a] for a in self.axes)
        transforms = math.prod(self.shape) // points
        return transforms * 5 * points * math.log2(points) / 1e9


def cases(scale: float) -> dict[str, Case]:
    def size(n: int) -> int:
        return max(8, round(n * scale / 8) * 8)

    return {
        "3d": Case("3d", 3, size(128), size(256), size(256), 1),
        "2d": Case("2d", 2, size(40), size(256), size(256), 2),
        "twix": Case("twix", 3, size(64), size(128), size(128), 2),
    }


def protocol(case: Case) -> Protocol:
    count = 1 if case.dimension == 3 else case.z
    geometry = tuple(
        SliceGeometry(
            position_mm=(0.0, 0.0, 5.0 * (i - count // 2)),
            read_dir=(1.0, 0.0, 0.0),
            phase_dir=(0.0, 1.0, 0.0),
            slice_dir=(0.0, 0.0, 1.0),
            thickness_mm=float(case.z) if case.dimension == 3 else 4.0,
        )
        for i in range(count)
    )
    return Protocol(
        sequence_name="bench",
        protocol_name=f"bench {case.name}",
        dimension=case.dimension,  # type: ignore[arg-type]
        matrix=(case.columns, case.lines, case.z if case.dimension == 3 else 1),
        fov_mm=(256.0, 256.0, float(case.z)),
        readout_oversampling=float(case.oversampling),
        partial_fourier=(1.0, 1.0),
        acceleration=(1, 1),
        slices=geometry,
        slice_spacing_mm=1.0 if case.dimension == 3 else 5.0,
        tr_ms=10.0,
        te_ms=(4.0,),
        ti_ms=None,
        flip_deg=10.0,
        field_strength_t=3.0,
    )


def write_case(case: Case, work: Path) -> None:
    """Phantom k-space with noise as ``{name}.cfl``/``.hdr`` (bart's format) and noise scans."""
    rng = np.random.default_rng(20260101)
    image = shepp_logan((case.z, case.lines, case.columns))
    if case.oversampling > 1:
        image = oversample(image, case.oversampling)
    maps = coil_maps(COILS, image.shape, seed=7)
    levels = np.linspace(0.8, 1.2, COILS).astype(np.float32)
    points = math.prod(case.shape[a] for a in case.axes)
    sigma = 0.002 * math.sqrt(points)
    axes = tuple(a - 1 for a in case.axes)
    data = np.lib.format.open_memmap(work / "scratch.npy", "w+", np.complex64, case.shape)
    for c in range(COILS):
        coil = maps[c] * image
        shifted = np.fft.ifftshift(coil, axes=axes)
        kspace = np.fft.fftshift(np.fft.fftn(shifted, axes=axes), axes=axes).astype(np.complex64)
        noise = rng.standard_normal((2, *kspace.shape), dtype=np.float32) * (sigma * levels[c])
        kspace += noise[0] + 1j * noise[1]
        data[c] = kspace
    data.flush()
    raw = work / f"{case.name}.cfl"
    with raw.open("wb") as out:
        for c in range(COILS):
            out.write(np.ascontiguousarray(data[c]).tobytes())
    del data
    (work / "scratch.npy").unlink()
    dims = list(reversed(case.shape)) + [1] * 12
    (work / f"{case.name}.hdr").write_text("# Dimensions\n" + " ".join(map(str, dims)) + "\n")
    white = rng.standard_normal((2, COILS, NOISE_SCAN_SAMPLES), dtype=np.float32)
    scans = (white[0] + 1j * white[1]) * (sigma * levels[:, None])
    np.save(work / f"{case.name}_noise.npy", scans.astype(np.complex64))


def load(case: Case, work: Path, into: np.ndarray | None = None) -> np.ndarray:
    """The case's k-space read into an aligned array (``into``, to reuse one between runs)."""
    data = fft.empty_aligned(case.shape) if into is None else into
    with (work / f"{case.name}.cfl").open("rb") as source:
        source.readinto(memoryview(data.reshape(-1).view(np.uint8)))
    return data


def peak_rss() -> int:
    """This process's peak resident memory in bytes (VmHWM; ru_maxrss carries the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def wisdom_path() -> Path:
    """The FFTW wisdom the worker loads: ``YC_FFTW_WISDOM``, else the image's file."""
    from recon_image.settings import DEFAULT_WISDOM

    named = os.environ.get("YC_FFTW_WISDOM", "").strip()
    return Path(named) if named else DEFAULT_WISDOM


def child(contender: str, case: Case, work: Path, threads: int) -> dict:
    """Run one contender once in this fresh process, as one job; its seconds and figures.

    ``seconds`` is everything the job pays, ``plan_seconds`` the part of it
    spent planning FFTW transforms (bart: its file I/O, timed apart).
    """
    if contender == "bart":
        bits = str(sum(1 << (3 - a) for a in case.axes))
        out = work / f"{case.name}_bart"
        start = time.perf_counter()
        subprocess.run(
            ["bart", "fft", "-i", bits, str(work / case.name), str(out)],
            check=True,
            env={**os.environ, "OMP_NUM_THREADS": str(threads)},
        )
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        data = (work / f"{case.name}.cfl").read_bytes()
        out.with_suffix(".cfl").write_bytes(data)
        io_seconds = time.perf_counter() - start
        for suffix in (".cfl", ".hdr"):
            out.with_suffix(suffix).unlink()
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        return {"seconds": seconds, "plan_seconds": io_seconds, "peak_bytes": peak}
    if contender == "floor":
        return floor(case, work, threads)
    if contender.startswith("pipeline"):
        wisdom = wisdom_path()
        if wisdom.is_file():
            fft.load_wisdom(wisdom)
    data = load(case, work)
    start = time.perf_counter()
    if contender.startswith("pipeline"):
        noise = np.load(work / f"{case.name}_noise.npy")
        options = CartesianOptions(coil_compression=12 if contender.endswith("cc12") else None)
        kspace = KSpace(
            data=data[None],
            sampled=np.ones((case.z, case.lines), dtype=bool),
            noise=noise,
            protocol=protocol(case),
        )
        prepare(kspace, options, threads=threads)
        plan_seconds = time.perf_counter() - start
        image = reconstruct(kspace, options, threads=threads)[0]
        seconds = time.perf_counter() - start
        np.save(work / f"{case.name}_{contender}.npy", image)
    elif contender == "fftw":
        plan_seconds, work_seconds = bare_fft_rss(
            data, case.axes, threads, lambda: load(case, work, data)
        )
        seconds = plan_seconds + work_seconds
    elif contender == "numpy":
        plan_seconds = 0.0
        rss(np.fft.ifftn(data, axes=case.axes))
        seconds = time.perf_counter() - start
    else:
        raise SystemExit(f"unknown contender {contender}")
    return {"seconds": seconds, "plan_seconds": plan_seconds, "peak_bytes": peak_rss()}


def bare_fft_rss(
    data: np.ndarray, axes: tuple[int, ...], threads: int, refill: Callable[[], object]
) -> tuple[float, float]:
    """One FFTW_MEASURE plan over ``axes``, run in place, then RSS: (planning s, work s).

    Planning overwrites its arrays, so ``refill`` puts the values back between
    the two, outside both clocks.
    """
    import pyfftw

    start = time.perf_counter()
    plan = pyfftw.FFTW(
        data, data, axes=axes, direction="FFTW_BACKWARD", flags=("FFTW_MEASURE",),
        threads=threads,
    )  # fmt: skip
    planned = time.perf_counter() - start
    refill()
    start = time.perf_counter()
    plan.execute()
    rss(data)
    return planned, time.perf_counter() - start


def floor(case: Case, work: Path, threads: int) -> dict:
    """The floor for the TWIX case: its file read from the page cache, FFTW plan, FFT and RSS."""
    data = fft.empty_aligned(case.shape)
    rng = np.random.default_rng(1)

    def noise() -> None:
        data.real = rng.standard_normal(case.shape, dtype=np.float32)
        data.imag = 0

    noise()
    start = time.perf_counter()
    with (work / "twix.dat").open("rb", buffering=0) as source:
        buffer = bytearray(8 << 20)
        while source.readinto(buffer):
            pass
    read_seconds = time.perf_counter() - start
    plan_seconds, work_seconds = bare_fft_rss(data, case.axes, threads, noise)
    return {
        "seconds": read_seconds + plan_seconds + work_seconds,
        "plan_seconds": plan_seconds,
        "peak_bytes": peak_rss(),
    }


def run_child(contender: str, case: Case, work: Path, threads: int, scale: float) -> dict:
    if contender == "program":
        return run_program(case, work, threads)
    command = [sys.executable, "-m", "scripts.bench.recon", "--child", contender]
    command += ["--case", case.name, "--work", str(work), "--threads", str(threads)]
    command += ["--scale", str(scale)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{contender} on {case.name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_twix(case: Case, work: Path) -> Path:
    """The TWIX case's file: a 3D TWIX VE phantom with noise scans, as a scanner writes one."""
    path = work / "twix.dat"
    command = [sys.executable, "-m", "scripts.phantoms", str(path), "--format", "ve"]
    command += ["--dim", "3", "--matrix", str(case.columns), str(case.lines), str(case.z)]
    command += ["--coils", str(COILS), "--oversampling", str(case.oversampling)]
    command += ["--noise-scans", "256", "--seed", "28"]
    subprocess.run(command, check=True, capture_output=True)
    return path


def run_program(case: Case, work: Path, threads: int) -> dict:
    """The worker's reconstruction step on the TWIX file, timed from outside, as Batch runs it."""
    out = work / "dicom"
    command = [sys.executable, "-m", "recon_image.programs.cartesian", str(work / "twix.dat")]
    command += [str(out), "--threads", str(threads)]
    stdout, seconds, peak_mb = run_measured(command, dict(os.environ))
    shutil.rmtree(out)
    found = re.search(r"read ([\d.]+) s, reconstruction ([\d.]+) s", stdout)
    if found is None:
        raise SystemExit(f"the program's log has no timings:\n{stdout}")
    read_s, recon_s = float(found.group(1)), float(found.group(2))
    return {
        "seconds": seconds,
        "plan_seconds": seconds - read_s - recon_s,
        "read_seconds": read_s,
        "recon_seconds": recon_s,
        "peak_bytes": peak_mb * 2**20,
    }


def report(case: Case, runs: dict[str, list[dict]], *, whole: float, inside: float) -> None:
    """Print the table and the goals; ``whole``/``inside``: 12-coil image difference (NRMSE)."""
    figures = {name: summary(rows) for name, rows in runs.items()}
    table(case, runs, "fftw", "planning s")
    # against the bare transform's work alone: the pipeline's plans come from wisdom, so the
    # bare one's planning is left out of the goals as the image build leaves out the job's
    bare_work = [r["seconds"] - r["plan_seconds"] for r in runs["fftw"]]
    pipe, cc = (
        ratio_spread([r["seconds"] for r in runs[n]], bare_work)
        for n in ("pipeline", "pipeline-cc12")
    )
    pipe_over_bart = ratio_of(runs["bart"], runs["pipeline"])
    worst = max(figures[n]["peak_bytes"] for n in ("pipeline", "pipeline-cc12")) / case.nbytes
    print(
        "(planning: FFTW plans made inside the clock, as every job makes them; bart: its"
        " reading and writing of the .cfl files, timed apart, inside its total. The goals"
        " below set the pipeline against the bare FFT + RSS without its planning, made off"
        " the clock as the image build makes the pipeline's)"
    )
    goals = (
        ("pipeline <= 2x bare FFT+RSS (planned)", pipe.text(2, "x"), pipe.median <= 2),
        ("12 virtual coils faster than bare (planned)", cc.text(2, "x"), cc.median < 1),
        (
            "12 virtual coils < 2% image difference (in the object)",
            f"{100 * inside:.2f}% (whole image {100 * whole:.2f}%)",
            inside < 0.02,
        ),
        (">= 3x faster than bart fft", pipe_over_bart.text(2, "x"), pipe_over_bart.median >= 3),
        ("peak memory < 3x k-space", f"{worst:.2f}x", worst < 3),
    )
    for goal, figure, met in goals:
        print(f"goal {goal}: {figure} {'met' if met else 'MISSED'}")


def report_twix(case: Case, runs: dict[str, list[dict]], size: int) -> None:
    """The worker's program on the TWIX file beside its floor."""
    program = runs["program"]
    table(case, runs, "floor", "start-up+DICOM s")
    read = spread([r["read_seconds"] for r in program]).median
    recon = spread([r["recon_seconds"] for r in program]).median
    print(
        f"(the program: read {read:.2f} s + reconstruction {recon:.2f} s, planning included,"
        f" of the {size / 2**20:.0f} MiB file; start-up+DICOM: interpreter start, imports and"
        " the DICOM series written, in its total. The floor: the file read from the page"
        " cache, then an FFTW plan, FFT and RSS of the same array; its planning is in the"
        " column)"
    )
    ratio = ratio_of(program, runs["floor"])
    peak = max(r["peak_bytes"] for r in program) / case.nbytes
    print(f"program / floor, per round: {ratio.text(2, 'x')}")
    print(
        f"goal the worker's peak memory < 3x k-space: {peak:.2f}x {'met' if peak < 3 else 'MISSED'}"
    )


def summary(rows: list[dict]) -> dict:
    """Median of each figure over the rounds; peak memory the highest."""
    return {
        "seconds": spread([r["seconds"] for r in rows]),
        "plan_seconds": spread([r["plan_seconds"] for r in rows]).median,
        "peak_bytes": max(r["peak_bytes"] for r in rows),
    }


def ratio_of(rows: list[dict], base: list[dict]) -> Spread:
    return ratio_spread([r["seconds"] for r in rows], [r["seconds"] for r in base])


def table(case: Case, runs: dict[str, list[dict]], baseline: str, aside: str) -> None:
    gib = case.nbytes / 2**30
    print(
        f"\n{case.name}: k-space {case.shape} complex64, {gib:.2f} GiB, {case.gflop():.1f} GFLOP;"
        f" {len(runs[baseline])} rounds: median (lowest-highest)"
    )
    print(
        f"{'contender':<15}{'seconds':>22}{aside:>18}{'GFLOP/s':>9}{'vs ' + baseline:>20}"
        f"{'peak GiB':>10}{'peak/k':>8}"
    )
    for name, rows in runs.items():
        row = summary(rows)
        seconds, peak = row["seconds"], row["peak_bytes"]
        print(
            f"{name:<15}{seconds.short(3):>22}{row['plan_seconds']:>18.3f}"
            f"{case.gflop() / seconds.median:>9.1f}{ratio_of(rows, runs[baseline]).short(2):>20}"
            f"{peak / 2**30:>10.2f}{peak / case.nbytes:>8.2f}"
        )


def work_folder(case_bytes: int) -> tuple[str | None, str]:
    """Where the k-space files go: tmpfs when it has room for them (bart reads and writes them)."""
    if SHM.is_dir() and os.access(SHM, os.W_OK):
        stats = os.statvfs(SHM)
        if stats.f_bavail * stats.f_frsize > 3 * case_bytes:
            return str(SHM), f"files on tmpfs ({SHM})"
    return None, "files on disk: tmpfs has no room, so bart's time includes disk I/O"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.25)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cases", default="3d,2d,twix")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--full", action="store_true", help="the full sizes (--scale 1)")
    parser.add_argument("--child", choices=CONTENDERS + TWIX_CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.full:
        args.scale = 1.0
    known = cases(args.scale)
    if args.child:
        print(json.dumps(child(args.child, known[args.case], args.work, args.threads)))
        return
    if shutil.which("bart") is None:
        raise SystemExit("the bart command is missing: apt-get install bart")
    chosen = [known[name] for name in args.cases.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-recon-wisdom-") as made:
        wisdom = wisdom_path()
        if wisdom.is_file():
            planning = f"FFTW wisdom loaded from {wisdom}"
        else:
            wisdom = Path(made) / "fftw.wisdom"
            seconds = make_wisdom(chosen, wisdom)
            # the children (pipeline and program) load it as the worker loads the image's
            os.environ["YC_FFTW_WISDOM"] = str(wisdom)
            planning = (
                f"no image wisdom here: the cases' shapes planned as the image build plans its"
                f" protocols, in {seconds:.0f} s off the clock"
            )
        print(f"threads {args.threads}; scale {args.scale}; {args.rounds} rounds; {planning}")
        run_cases(chosen, args)


def make_wisdom(chosen: list[Case], path: Path) -> float:
    """Wisdom for the cases' protocols, made as the image build makes it; its seconds."""
    command = [sys.executable, "-m", "recon_image.pipeline.wisdom", str(path), "--only"]
    for case in chosen:
        flag = "--slab" if case.dimension == 3 else "--slices"
        command += [flag, f"{case.z},{case.lines},{case.columns}"]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def run_cases(chosen: list[Case], args: argparse.Namespace) -> None:
    pinned = {k: v for k, v in os.environ.items() if k in OPENBLAS_OVERRIDES}
    if pinned:
        print(
            f"note: {pinned} pins OpenBLAS to an older kernel here, which halves the speed of the"
            " coil-mixing products; the worker's container sets neither. For figures like"
            f" production's: env {' '.join('-u ' + k for k in pinned)}"
            " python -m scripts.bench.recon"
        )
    for case in chosen:
        run_case(case, args.threads, args.scale, args.rounds)


def run_case(case: Case, threads: int, scale: float, rounds: int) -> None:
    """Write the case's data in a folder of its own, run its contenders, print its table."""
    folder, where = work_folder(case.nbytes)
    with tempfile.TemporaryDirectory(prefix="bench-recon-", dir=folder) as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        if case.name == "twix":
            size = write_twix(case, work).stat().st_size
            print(
                f"\ntwix: a 3D TWIX VE file of {size / 2**20:.0f} MiB written in"
                f" {time.perf_counter() - start:.1f} s; {where}",
                flush=True,
            )
            contenders = TWIX_CONTENDERS
        else:
            write_case(case, work)
            print(
                f"\n{case.name}: phantom k-space written in {time.perf_counter() - start:.1f} s;"
                f" {where}",
                flush=True,
            )
            contenders = CONTENDERS
        runs = run_rounds(
            contenders,
            rounds,
            lambda _, c: run_child(c, case, work, threads, scale),
            lambda line: print(line, flush=True),
        )
        if case.name == "twix":
            report_twix(case, runs, size)
            return
        full = np.load(work / f"{case.name}_pipeline.npy")
        compressed = np.load(work / f"{case.name}_pipeline-cc12.npy")
    inside = shepp_logan((case.z, case.lines, case.columns)) != 0
    report(
        case,
        runs,
        whole=nrmse(compressed, full),
        inside=nrmse(compressed[inside], full[inside]),
    )


if __name__ == "__main__":
    main()
