"""Our GRAPPA, CG-SENSE and L1-wavelet CS against pygrappa, BART ``pics`` and sigpy, side by side.

Every contender gets the same undersampled phantom k-space (Shepp-Logan seen
by ``--coils`` coils, complex Gaussian noise, every R-th line plus 24
reference lines) and, for SENSE and CS, the same ESPIRiT maps, the same
regularisation and the same number of iterations. The data is scaled once so
that the zero-filled image peaks at 1, so one regularisation weight means the
same to all (BART runs with ``-w 1``: no scaling of its own).

Contenders run once a round for ``--rounds`` rounds, interleaved (forward
order in odd rounds, reversed in even ones). Printed per contender: total
seconds (median and spread over the rounds), the part of it that is planning
or start-up, seconds per iteration, the NRMSE it reaches against the truth, and
its time over ours (per-round ratio, median and spread). Each time is what a
job pays for one problem: ours from a cold start, the FFTW plans made inside
the clock with no wisdom in memory (a shape outside the image's wisdom list;
a job meets each shape once); BART's the wall time of its process, its
start-up and its reading and writing of small .cfl files included (its
start-up, the wall time of ``bart version``, printed beside); sigpy's from the
construction of its app, on the CPU in this process. The ESPIRiT maps every
contender is given are computed once, outside the clocks, and timed apart. Our
figures come from one thread (the single-problem comparison) and, for a
multi-slice stack, from ``iterative.reconstruct`` with slices in parallel on
every vCPU.

GRAPPA: ours with its 2 x 5 kernel (2 acquired lines, 5 columns) against
pygrappa with the same kernel: its ``kernel_size`` is the window, so (3, 5) at
R = 2 holds the 2 acquired lines and 5 columns around each missing point.

Last, peak memory of a 32-coil 3D volume through ``iterative.reconstruct``
(SENSE) and GRAPPA, in a child process: the traced NumPy peak over the
reconstruction and the process's resident peak, beside the k-space's size.

Goal: faster than BART and sigpy at equal or lower error; GRAPPA faster than
pygrappa at equal or lower error; memory bounded (peak a small multiple of
the k-space).

    python -m scripts.bench.iterative [--size 128] [--coils 16] [--acceleration 4] [--rounds 3]
        [--quick] [--full] [--espirit-grid 1,4]

The default run takes about three minutes; ``--full`` runs 192 x 192 slices (8
in the stack), a 128 x 128 radial case, the 32-coil 3D memory case at 64 x 128
x 128 (``--shape``) and the ESPIRiT grid 1 beside 4.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyfftw

from recon_image.pipeline import fft, grappa, iterative
from recon_image.pipeline.compressed_sensing import CompressedSensingOptions, l1_wavelet
from recon_image.pipeline.operators import SenseOperator
from recon_image.pipeline.sense import SenseOptions, cg_sense
from recon_image.pipeline.sensitivities import EspiritOptions, espirit
from recon_image.pipeline.wavelets import Wavelet
from recon_image.raw.kspace import KSpace, Protocol, Reference, SliceGeometry
from scripts.bench.rounds import ratio_spread, run_rounds, spread
from scripts.phantoms import bart
from scripts.phantoms.numeric import coil_maps, nrmse, oversample, shepp_logan, to_kspace

REFERENCE_LINES = 24
# pygrappa's kernel_size is its window: 3 lines at R = 2 hold the 2 acquired ones around a gap.
PYGRAPPA_KERNEL = (3, 5)
SENSE_ITERATIONS, SENSE_LAMBDA = 15, 1e-3
CS_ITERATIONS, CS_LAMBDA = 40, 2e-3


def phantom_protocol(dimension: int, shape: tuple[int, int, int], oversampling: float) -> Protocol:
    """A transverse protocol for images of ``shape`` = (z, lines, columns)."""
    z, lines, columns = shape
    count = 1 if dimension == 3 else z
    slices = tuple(
        SliceGeometry((0.0, 0.0, 4.0 * i), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), 4.0)
        for i in range(count)
    )
    return Protocol(
        sequence_name="phantom",
        protocol_name="bench",
        dimension=dimension,  # type: ignore[arg-type]
        matrix=(columns, lines, z if dimension == 3 else 1),
        fov_mm=(float(columns), float(lines), 4.0 * z),
        readout_oversampling=oversampling,
        partial_fourier=(1.0, 1.0),
        acceleration=(1, 1),
        slices=slices,
        slice_spacing_mm=4.0,
        tr_ms=10.0,
        te_ms=(5.0,),
        ti_ms=None,
        flip_deg=15.0,
        field_strength_t=3.0,
    )


@dataclasses.dataclass
class Figure:
    """One run: its seconds, the part of them spent planning or starting up, its result."""

    seconds: float
    startup: float
    iterations: int
    error: float


def timed(run: Callable[[], np.ndarray], truth: np.ndarray, iterations: int) -> Figure:
    started = time.perf_counter()
    image = run()
    return Figure(time.perf_counter() - started, 0.0, iterations, nrmse(image, truth))


def cold_start() -> None:
    """Forget every FFTW plan and all wisdom, as a job's fresh process starts."""
    fft.clear_plans()
    pyfftw.forget_wisdom()


def bart_startup() -> float:
    """Wall seconds of ``bart version``: the start of a bart process, no work."""
    started = time.perf_counter()
    subprocess.run(["bart", "version"], check=True, capture_output=True)
    return time.perf_counter() - started


def slice_phantom(size: int, coils: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(truth, noisy fully sampled k-space (coils, size, size))."""
    truth = shepp_logan((1, size, size))[0]
    maps = coil_maps(coils, (1, size, size), seed=seed)[:, 0]
    kspace = to_kspace(maps * truth, (1, 2))
    rng = np.random.default_rng(seed)
    sigma = 0.01 * float(np.abs(kspace).max()) / size
    noise = rng.standard_normal((*kspace.shape, 2), dtype=np.float32) * np.float32(sigma)
    return truth, kspace + noise.view(np.complex64)[..., 0]


def lattice(size: int, acceleration: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[size // 2 % acceleration :: acceleration] = True
    half = REFERENCE_LINES // 2
    mask[size // 2 - half : size // 2 + half] = True
    return mask


def report(title: str, figures: dict[str, list[Figure]], baseline: str) -> None:
    """One row per contender: medians over the rounds, and per-round ratios to ``baseline``."""
    rounds = len(figures[baseline])
    print(f"\n{title}; {rounds} rounds, interleaved: median (lowest-highest)")
    print(
        f"  {'contender':<22}{'total s':>22}{'of which start-up s':>21}{'s/iter':>9}"
        f"{'NRMSE':>9}{'time/ours':>20}"
    )
    base = [f.seconds for f in figures[baseline]]
    for name, runs in figures.items():
        total = spread([f.seconds for f in runs])
        startup = spread([f.startup for f in runs]).median
        per = (total.median - startup) / max(runs[0].iterations, 1)
        error = spread([f.error for f in runs]).median
        ratio = ratio_spread([f.seconds for f in runs], base)
        print(
            f"  {name:<22}{total.short(3):>22}{startup:>21.3f}{per:>9.4f}{error:>9.4f}"
            f"{ratio.short(2):>20}"
        )
    print(
        "  (start-up: ours, FFTW planning with no wisdom; bart, its process start; sigpy, none"
        " apart. Each is in the total, as a job pays it; s/iter is the rest over the iterations)"
    )


def measure_rounds(
    contenders: dict[str, Callable[[], Figure]], rounds: int
) -> dict[str, list[Figure]]:
    """Every contender once a round, interleaved; progress on one line."""
    return run_rounds(
        list(contenders),
        rounds,
        lambda _, name: contenders[name](),
        say=lambda line: print(f"  {line}", flush=True),
    )


def iterative_case(size: int, coils: int, acceleration: int, rounds: int) -> None:
    truth, kspace = slice_phantom(size, coils)
    centre = kspace[:, size // 2 - REFERENCE_LINES // 2 : size // 2 + REFERENCE_LINES // 2]
    started = time.perf_counter()
    maps = espirit(centre, (size, size))
    espirit_s = time.perf_counter() - started
    started = time.perf_counter()
    bart_maps = bart.ecalib(centre, (size, size)) if bart.available() else None
    ecalib_s = time.perf_counter() - started
    mask = lattice(size, acceleration)
    operator = SenseOperator(maps, mask)
    scale = 1.0 / float(np.abs(operator.adjoint(operator.shift_data(kspace))).max())
    data = operator.shift_data(kspace * np.float32(scale))
    measured = (kspace * mask * np.float32(scale / size)).astype(np.complex64)
    print(
        f"\n{size}x{size}, {coils} coils, R={acceleration} + {REFERENCE_LINES} reference lines;"
        f" zero-filled NRMSE {nrmse(operator.zero_filled(data), truth):.4f}"
    )
    print(
        f"  ESPIRiT maps, given to every contender (outside their clocks): ours {espirit_s:.3f} s;"
        f" bart ecalib {ecalib_s:.3f} s (process)"
    )
    if bart_maps is not None:
        inside = truth > 0
        agreement = np.abs(np.sum(maps.conj() * bart_maps, axis=0))[inside].mean()
        print(f"  maps agree with bart ecalib: mean |<ours, bart>| {agreement:.5f} in the object")

    defaults = CompressedSensingOptions()
    wavelet = Wavelet((size, size), "haar", defaults.levels)
    image = operator.adjoint(data)
    repeats = 20
    started = time.perf_counter()
    for _ in range(repeats):
        wavelet.shrink(image, 0.01)
    shrink_s = (time.perf_counter() - started) / repeats
    started = time.perf_counter()
    for _ in range(repeats):
        operator.normal(image)
    normal_s = (time.perf_counter() - started) / repeats
    print(
        f"  per iteration: E^H E {normal_s * 1e3:.2f} ms ({coils} coils), wavelet shrink"
        f" (PyWavelets haar, {wavelet.levels} levels) {shrink_s * 1e3:.2f} ms, done"
        f" {defaults.shifts} times (cycle spinning)"
    )

    def ours(solve: Callable[[SenseOperator], np.ndarray], iterations: int) -> Figure:
        cold_start()
        started = time.perf_counter()
        planned = SenseOperator(maps, mask)
        planning = time.perf_counter() - started
        image = solve(planned)
        seconds = time.perf_counter() - started
        return Figure(seconds, planning, iterations, nrmse(image, truth))

    sense_options = SenseOptions(iterations=SENSE_ITERATIONS, regularisation=SENSE_LAMBDA)
    sense: dict[str, Callable[[], Figure]] = {
        "ours CG-SENSE": lambda: ours(
            lambda op: cg_sense(op, data, sense_options), SENSE_ITERATIONS
        )
    }
    flags = ["-l2", "-r", str(SENSE_LAMBDA), "-i", str(SENSE_ITERATIONS)]
    _bart(sense, "bart pics -l2", measured, maps, flags, truth, SENSE_ITERATIONS)
    _sigpy(sense, "sigpy SenseRecon", measured, maps, truth, "sense")
    title = f"SENSE, {SENSE_ITERATIONS} iterations, lambda {SENSE_LAMBDA}"
    report(title, measure_rounds(sense, rounds), "ours CG-SENSE")

    options = CompressedSensingOptions(iterations=CS_ITERATIONS, regularisation=CS_LAMBDA)
    cs: dict[str, Callable[[], Figure]] = {
        "ours FISTA haar": lambda: ours(lambda op: l1_wavelet(op, data, options), CS_ITERATIONS)
    }
    for wavelet_name in ("haar", "dau2"):
        flags = ["-R", f"W:3:0:{CS_LAMBDA}", "--wavelet", wavelet_name, "-i", str(CS_ITERATIONS)]
        _bart(cs, f"bart pics W {wavelet_name}", measured, maps, flags, truth, CS_ITERATIONS)
    _sigpy(cs, "sigpy L1Wavelet haar", measured, maps, truth, "cs")
    title = f"L1-wavelet CS, {CS_ITERATIONS} iterations, lambda {CS_LAMBDA}"
    report(title, measure_rounds(cs, rounds), "ours FISTA haar")


def _bart(
    contenders: dict[str, Callable[[], Figure]],
    name: str,
    measured: np.ndarray,
    maps: np.ndarray,
    flags: list[str],
    truth: np.ndarray,
    iterations: int,
) -> None:
    if not bart.available():
        print(f"  {name}: bart is not installed, left out")
        return

    def run() -> Figure:
        startup = bart_startup()
        result = bart.pics(measured, maps, flags)
        return Figure(result.seconds, startup, iterations, nrmse(result.image, truth))

    contenders[name] = run


def _sigpy(
    contenders: dict[str, Callable[[], Figure]],
    name: str,
    measured: np.ndarray,
    maps: np.ndarray,
    truth: np.ndarray,
    method: str,
) -> None:
    try:
        import sigpy.mri as mr
    except ImportError as error:
        print(f"  {name}: sigpy cannot be imported ({error}), left out")
        return
    if method == "sense":

        def run() -> np.ndarray:
            return mr.app.SenseRecon(
                measured, maps, lamda=SENSE_LAMBDA, max_iter=SENSE_ITERATIONS, show_pbar=False
            ).run()

        iterations = SENSE_ITERATIONS
    else:

        def run() -> np.ndarray:
            return mr.app.L1WaveletRecon(
                measured,
                maps,
                lamda=CS_LAMBDA,
                wave_name="haar",
                max_iter=CS_ITERATIONS,
                show_pbar=False,
            ).run()

        iterations = CS_ITERATIONS
    contenders[name] = lambda: timed(run, truth, iterations)


def grappa_case(size: int, coils: int, rounds: int) -> None:
    from pygrappa import grappa as pygrappa

    truth, kspace = slice_phantom(size, coils, seed=1)
    mask = lattice(size, 2)
    undersampled = kspace * mask[None]
    top = size // 2 - REFERENCE_LINES // 2
    reference = kspace[:, top : top + REFERENCE_LINES]

    def ours() -> np.ndarray:
        weights = grappa.calibrate(reference, 2, grappa.GrappaOptions())
        filled = grappa.fill(undersampled.copy(), mask[:, 0], weights)
        return _rss(filled)

    def theirs() -> np.ndarray:
        filled = pygrappa(
            np.moveaxis(undersampled, 0, -1),
            np.moveaxis(reference, 0, -1),
            kernel_size=PYGRAPPA_KERNEL,
            coil_axis=-1,
            silent=True,
        )
        return _rss(np.moveaxis(filled, -1, 0))

    print(
        f"\nGRAPPA {size}x{size}, {coils} coils, R=2 + {REFERENCE_LINES} reference lines;"
        f" zero-filled NRMSE {nrmse(_rss(undersampled), truth):.4f}"
    )
    kernel = grappa.GrappaOptions().kernel
    contenders = {
        f"ours GRAPPA {kernel[0]}x{kernel[1]}": lambda: timed(ours, truth, 1),
        f"pygrappa {PYGRAPPA_KERNEL}": lambda: timed(theirs, truth, 1),
    }
    report(
        f"GRAPPA (calibration and filling), the same kernel: {kernel[0]} acquired lines x"
        f" {kernel[1]} columns",
        measure_rounds(contenders, rounds),
        f"ours GRAPPA {kernel[0]}x{kernel[1]}",
    )


def _rss(kspace: np.ndarray) -> np.ndarray:
    images = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(kspace, axes=(-2, -1))), axes=(-2, -1))
    return np.sqrt(np.sum(np.abs(images) ** 2, axis=0))


def multislice_case(size: int, coils: int, acceleration: int, slices: int, threads: int) -> None:
    truth = shepp_logan((slices + 2, size, size))[1:-1]  # the end slices are nearly empty
    maps = coil_maps(coils, truth.shape, seed=2)
    data = to_kspace(maps * truth[None], (2, 3))[None]
    mask = lattice(size, acceleration)
    top = size // 2 - REFERENCE_LINES // 2
    reference = Reference(
        data=data[0, :, :, top : top + REFERENCE_LINES].copy(),
        first_line=top,
        first_z=0,
        sampled=np.ones((slices, REFERENCE_LINES), dtype=bool),
    )
    sampled = np.broadcast_to(mask[:, 0], (slices, size)).copy()
    data *= sampled[None, None, :, :, None]
    base = phantom_protocol(2, truth.shape, 1.0)
    base = dataclasses.replace(base, acceleration=(acceleration, 1))
    print(f"\n{slices} slices of {size}x{size}, {coils} coils, R={acceleration}, {threads} threads")
    for method in ("sense", "cs"):
        kspace = KSpace(data.copy(), sampled, None, base, reference=reference)
        started = time.perf_counter()
        images = iterative.reconstruct(
            kspace, iterative.IterativeOptions(method=method), threads=threads
        )
        seconds = time.perf_counter() - started
        error = nrmse(images[0], truth)
        print(
            f"  iterative.reconstruct {method}: {seconds:.2f} s, {seconds / slices:.3f} s per"
            f" slice (ESPIRiT included), NRMSE {error:.4f}"
        )


def radial_case(size: int, coils: int, threads: int) -> None:
    from recon_image.pipeline import radial
    from scripts.phantoms.radial import simulate_radial

    scan = simulate_radial(size, coils, frames=8, spokes_per_frame=13, noise_sigma=0.05)
    shape = (size, size)
    options = radial.GraspOptions()
    started = time.perf_counter()
    maps = radial.coil_maps_from_spokes(scan.spokes, scan.angles, shape, options.espirit)
    maps_s = time.perf_counter() - started
    started = time.perf_counter()
    gridded = radial.gridding(scan.spokes, scan.angles, shape, 13, maps)
    gridding_s = time.perf_counter() - started
    started = time.perf_counter()
    frames = radial.grasp(scan.spokes, scan.angles, shape, options, threads=threads)
    grasp_s = time.perf_counter() - started
    print(
        f"\nGolden-angle radial {size}x{size}, {coils} coils, 8 frames of 13 spokes:"
        f" ESPIRiT from the gridded spokes {maps_s:.2f} s; per-frame gridding"
        f" {gridding_s:.2f} s, NRMSE {nrmse(gridded, scan.truth):.4f}; GRASP"
        f" ({options.iterations} iterations, ESPIRiT included) {grasp_s:.2f} s, NRMSE"
        f" {nrmse(frames, scan.truth):.4f}"
    )


def memory_child(
    method: str, coils: int, shape: tuple[int, int, int], threads: int, grid: int
) -> dict:
    """Peak memory of one 3D reconstruction in this (fresh) process.

    ``grid`` is the ESPIRiT grid step of the SENSE reconstruction (1: the
    eigenproblems solved at every pixel).
    """
    partitions, lines, columns = shape
    truth = shepp_logan((partitions, lines, columns))
    wide = oversample(truth, 2)
    data = np.empty((1, coils, partitions, lines, 2 * columns), dtype=np.complex64)
    maps = coil_maps(coils, wide.shape, seed=3)
    for c in range(coils):
        data[0, c] = to_kspace(maps[c] * wide, (0, 1, 2))
    del maps
    r_line, r_par = (2, 1) if method == "grappa" else (2, 2)
    z = np.arange(partitions)[:, None]
    y = np.arange(lines)[None, :]
    sampled = ((y - lines // 2) % r_line == 0) & ((z - partitions // 2) % r_par == 0)
    ref_lines, ref_parts = 24, 16 if method != "grappa" else partitions
    l0, p0 = lines // 2 - ref_lines // 2, partitions // 2 - ref_parts // 2
    reference = Reference(
        data=data[0, :, p0 : p0 + ref_parts, l0 : l0 + ref_lines].copy(),
        first_line=l0,
        first_z=p0,
        sampled=np.ones((ref_parts, ref_lines), dtype=bool),
    )
    data *= sampled[None, None, :, :, None]
    protocol = dataclasses.replace(
        phantom_protocol(3, shape, 2.0), acceleration=(r_line, r_par), reference_lines=(24, 16)
    )
    kspace = KSpace(data, sampled, None, protocol, reference=reference)
    tracemalloc.start()
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()
    started = time.perf_counter()
    if method == "grappa":
        from recon_image.pipeline import cartesian

        filled = grappa.reconstruct_kspace(kspace, threads=threads)
        images = cartesian.reconstruct(filled, cartesian.CartesianOptions(), threads=threads)
    else:
        options = iterative.IterativeOptions(
            method="sense",
            sense=SenseOptions(iterations=10),
            espirit=EspiritOptions(grid=grid),
        )
        images = iterative.reconstruct(kspace, options, threads=threads)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    resident = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            resident = int(line.split()[1]) * 1024
    return {
        "kspace_bytes": int(data.nbytes),
        "traced_peak_bytes": int(peak - before),
        "resident_peak_bytes": resident,
        "seconds": seconds,
        "error": nrmse(images[0], truth),
    }


def memory_case(
    coils: int, shape: tuple[int, int, int], threads: int, grids: tuple[int, ...]
) -> None:
    """Each of ``grids`` (ESPIRiT grid steps) for SENSE, then GRAPPA, in a child process each."""
    print(f"\nMemory: 3D volume, {coils} coils, {shape} (partitions, lines, columns), 2x readout")
    runs = [("sense", grid) for grid in grids] + [("grappa", 1)]
    for method, grid in runs:
        command = [sys.executable, "-m", "scripts.bench.iterative", "--memory-child", method]
        command += ["--coils", str(coils), "--shape", ",".join(map(str, shape))]
        command += ["--threads", str(threads), "--espirit-grid", str(grid)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"memory child {method} failed:\n{done.stderr}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        gib = 2**30
        k = figures["kspace_bytes"] / gib
        traced = figures["traced_peak_bytes"] / gib
        resident = figures["resident_peak_bytes"] / gib
        name = f"{method} (ESPIRiT grid {grid})" if method == "sense" else method
        print(
            f"  {name:<24} k-space {k:.2f} GiB; NumPy peak during the reconstruction"
            f" {traced:.2f} GiB ({traced / k:.2f}x the k-space); process resident peak"
            f" {resident:.2f} GiB (phantom making included); {figures['seconds']:.1f} s,"
            f" NRMSE {figures['error']:.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--coils", type=int, default=16)
    parser.add_argument("--acceleration", type=int, default=4)
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--shape", default="16,64,128", help="3D memory case")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--full", action="store_true", help="the long form: larger sizes")
    parser.add_argument(
        "--espirit-grid",
        default=str(EspiritOptions().grid),
        help="3D case: ESPIRiT grid steps to compare, comma-separated (1: every pixel)",
    )
    parser.add_argument("--memory-child", choices=("sense", "grappa"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.full:
        args.size, args.slices = 192, 8
        args.shape, args.espirit_grid = "64,128,128", f"1,{EspiritOptions().grid}"
    shape = tuple(int(n) for n in args.shape.split(","))
    if args.memory_child:
        grid = int(args.espirit_grid.split(",")[0])
        result = memory_child(args.memory_child, args.coils, shape, args.threads, grid)  # type: ignore[arg-type]
        print(json.dumps(result))
        return
    if args.quick:
        args.size, args.coils, args.slices, shape = 96, 8, 2, (16, 64, 64)
    print(f"threads {args.threads}; BART {'found' if bart.available() else 'not installed'}")
    iterative_case(args.size, args.coils, args.acceleration, args.rounds)
    iterative_case(args.size, args.coils, 2, args.rounds)
    grappa_case(min(args.size, 128), args.coils, args.rounds)
    multislice_case(args.size, args.coils, args.acceleration, args.slices, args.threads)
    radial_case(128 if args.full else 96, 8, args.threads)
    grids = tuple(int(n) for n in args.espirit_grid.split(","))
    memory_case(32, shape, args.threads, grids)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
