"""The Cartesian pipeline against bare FFTs, side by side on the same k-space.

Two cases of complex64 phantom k-space (a Shepp-Logan seen by 32 coils, with
noise and noise scans):

- 3D: 32 coils x (128 partitions, 256 lines, 256 readout samples);
- 2D: 32 coils x 40 slices x (256 lines, 512 readout samples, 2x oversampled).

Contenders, each in its own process so its peak memory is its own:

- ``pipeline``: ``recon_image.pipeline.cartesian.reconstruct``, prewhitening
  through coil combination (RSS); FFTW plans made before the clock starts;
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
- ``bart``: the ``bart fft -i`` command on .cfl/.hdr files (its file reading
  and writing included, as a user running it would see).

GFLOP/s counts 5 N log2 N per transform of the bare FFT (N = points per
transform) for every contender, so the figures compare time for the same job.
Ratios are seconds over the ``fftw`` baseline's seconds; each contender's
figure is its best of ``--repeat`` runs (each on the k-space as written).

Goals: the pipeline within 2x of the bare FFT + RSS; with compression to 12
virtual coils faster than the bare 32-coil FFT + RSS at under 2% image
difference; at least 3x faster than the ``bart fft`` command; peak memory
under 3x the k-space size.

    python -m scripts.bench.recon [--scale 1.0] [--threads N] [--cases 3d,2d] [--repeat 3]

``--scale 0.25`` shrinks every image dimension (not the coils) for a quick run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recon_image.pipeline import fft
from recon_image.pipeline.cartesian import CartesianOptions, prepare, reconstruct
from recon_image.pipeline.coils import rss
from recon_image.raw.kspace import KSpace, Protocol, SliceGeometry
from scripts.phantoms.numeric import coil_maps, nrmse, oversample, shepp_logan

COILS = 32
CONTENDERS = ("pipeline", "pipeline-cc12", "fftw", "numpy", "bart")
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


def child(contender: str, case: Case, work: Path, threads: int, repeat: int) -> dict:
    """Run one contender ``repeat`` times in this process; return its best time and figures.

    Every run starts from the k-space as written (the in-place contenders
    overwrite it), read again outside the clock.
    """
    plan_seconds = 0.0
    times = []
    if contender == "bart":
        bits = str(sum(1 << (3 - a) for a in case.axes))
        out = work / f"{case.name}_bart"
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run(
                ["bart", "fft", "-i", bits, str(work / case.name), str(out)],
                check=True,
                env={**os.environ, "OMP_NUM_THREADS": str(threads)},
            )
            times.append(time.perf_counter() - start)
            for suffix in (".cfl", ".hdr"):
                out.with_suffix(suffix).unlink()
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        return {"seconds": min(times), "plan_seconds": 0.0, "peak_bytes": peak}
    data = load(case, work)
    if contender.startswith("pipeline"):
        noise = np.load(work / f"{case.name}_noise.npy")
        options = CartesianOptions(coil_compression=12 if contender.endswith("cc12") else None)
        for run in range(repeat):
            if run:
                load(case, work, into=data)
            kspace = KSpace(
                data=data[None],
                sampled=np.ones((case.z, case.lines), dtype=bool),
                noise=noise,
                protocol=protocol(case),
            )
            start = time.perf_counter()
            prepare(kspace, options, threads=threads)
            if not run:
                plan_seconds = time.perf_counter() - start
            start = time.perf_counter()
            image = reconstruct(kspace, options, threads=threads)[0]
            times.append(time.perf_counter() - start)
        np.save(work / f"{case.name}_{contender}.npy", image)
    elif contender == "fftw":
        import pyfftw

        start = time.perf_counter()
        plan = pyfftw.FFTW(
            data, data, axes=case.axes, direction="FFTW_BACKWARD", flags=("FFTW_MEASURE",),
            threads=threads,
        )  # fmt: skip
        plan_seconds = time.perf_counter() - start
        for _ in range(repeat):
            load(case, work, into=data)
            start = time.perf_counter()
            plan.execute()
            rss(data)
            times.append(time.perf_counter() - start)
    elif contender == "numpy":
        for _ in range(repeat):
            start = time.perf_counter()
            images = np.fft.ifftn(data, axes=case.axes)
            rss(images)
            times.append(time.perf_counter() - start)
            del images
    else:
        raise SystemExit(f"unknown contender {contender}")
    return {"seconds": min(times), "plan_seconds": plan_seconds, "peak_bytes": peak_rss()}


def run_child(
    contender: str, case: Case, work: Path, threads: int, scale: float, repeat: int
) -> dict:
    command = [sys.executable, "-m", "scripts.bench.recon", "--child", contender]
    command += ["--case", case.name, "--work", str(work), "--threads", str(threads)]
    command += ["--scale", str(scale), "--repeat", str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{contender} on {case.name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(case: Case, figures: dict[str, dict], *, whole: float, inside: float) -> None:
    """Print the table and the goals; ``whole``/``inside``: 12-coil image difference (NRMSE)."""
    base = figures["fftw"]["seconds"]
    gib = case.nbytes / 2**30
    print(f"\n{case.name}: k-space {case.shape} complex64, {gib:.2f} GiB, {case.gflop():.1f} GFLOP")
    print(
        f"{'contender':<15}{'seconds':>9}{'GFLOP/s':>9}{'vs fftw':>9}{'peak GiB':>10}{'peak/k':>8}"
    )
    for name, row in figures.items():
        seconds, peak = row["seconds"], row["peak_bytes"]
        print(
            f"{name:<15}{seconds:>9.3f}{case.gflop() / seconds:>9.1f}{seconds / base:>9.2f}"
            f"{peak / 2**30:>10.2f}{peak / case.nbytes:>8.2f}"
        )
    pipe, cc, bart = (figures[n]["seconds"] for n in ("pipeline", "pipeline-cc12", "bart"))
    worst = max(figures[n]["peak_bytes"] for n in ("pipeline", "pipeline-cc12")) / case.nbytes
    print(
        f"planning (excluded above): pipeline {figures['pipeline']['plan_seconds']:.2f} s, "
        f"fftw {figures['fftw']['plan_seconds']:.2f} s"
    )
    goals = (
        ("pipeline <= 2x bare FFT+RSS", f"{pipe / base:.2f}x", pipe <= 2 * base),
        ("12 virtual coils faster than bare", f"{cc / base:.2f}x", cc < base),
        (
            "12 virtual coils < 2% image difference (in the object)",
            f"{100 * inside:.2f}% (whole image {100 * whole:.2f}%)",
            inside < 0.02,
        ),
        (">= 3x faster than bart fft", f"{bart / pipe:.2f}x", bart >= 3 * pipe),
        ("peak memory < 3x k-space", f"{worst:.2f}x", worst < 3),
    )
    for goal, figure, met in goals:
        print(f"goal {goal}: {figure} {'met' if met else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cases", default="3d,2d")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; best counts")
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    known = cases(args.scale)
    if args.child:
        print(json.dumps(child(args.child, known[args.case], args.work, args.threads, args.repeat)))
        return
    if shutil.which("bart") is None:
        raise SystemExit("the bart command is missing: apt-get install bart")
    print(f"threads {args.threads}; scale {args.scale}; best of {args.repeat} runs each")
    pinned = {k: v for k, v in os.environ.items() if k in OPENBLAS_OVERRIDES}
    if pinned:
        print(
            f"note: {pinned} pins OpenBLAS to an older kernel here, which halves the speed of the"
            " coil-mixing products; the worker's container sets neither. For figures like"
            f" production's: env {' '.join('-u ' + k for k in pinned)}"
            " python -m scripts.bench.recon"
        )
    with tempfile.TemporaryDirectory(prefix="bench-recon-") as tmp:
        work = Path(tmp)
        for name in args.cases.split(","):
            case = known[name]
            start = time.perf_counter()
            write_case(case, work)
            print(f"\n{name}: phantom k-space written in {time.perf_counter() - start:.1f} s")
            figures = {
                c: run_child(c, case, work, args.threads, args.scale, args.repeat)
                for c in CONTENDERS
            }
            full = np.load(work / f"{name}_pipeline.npy")
            compressed = np.load(work / f"{name}_pipeline-cc12.npy")
            inside = shepp_logan((case.z, case.lines, case.columns)) != 0
            report(
                case,
                figures,
                whole=nrmse(compressed, full),
                inside=nrmse(compressed[inside], full[inside]),
            )
            for leftover in work.glob(f"{name}*"):
                leftover.unlink()


if __name__ == "__main__":
    main()
