"""``yc-parallel``: the built-in GRAPPA, SENSE and compressed-sensing reconstructions.

``python -m recon_image.programs.parallel RAW_FILE OUT_DIR --method grappa|sense|cs [options]``
reads undersampled Siemens TWIX or MRD raw data with its reference lines,
reconstructs it and writes one DICOM series into ``OUT_DIR``. Input that cannot
be reconstructed exits 65 with the reason (also in the runner's error file); a
fault of the program itself exits 70.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from recon_image.errors import BadInput, RawDataError
from recon_image.programs import run_guarded
from recon_image.programs.cartesian import coil_compression
from recon_image.settings import ProgramSettings

if TYPE_CHECKING:
    import numpy as np

    from recon_image.raw.kspace import KSpace, Protocol, VolumeLabel

logger = logging.getLogger("yarracloud.parallel")

PROGRAM = "yc-parallel"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise BadInput(f"{message}; fix the mode's Args")


def _positive_int(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1 or value != float(text):
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number of at least 1")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def parser() -> argparse.ArgumentParser:
    """The program's command line."""
    p = _Parser(prog=PROGRAM, description=__doc__.splitlines()[0])
    p.add_argument("raw_file", type=Path, help="TWIX .dat or MRD .h5 file")
    p.add_argument("out_dir", type=Path, help="folder for the DICOM series")
    p.add_argument("--method", choices=("grappa", "sense", "cs", "grasp"), required=True)
    p.add_argument(
        "--spokes-per-frame", type=_positive_int, default=13, help="GRASP: spokes per frame"
    )
    p.add_argument("--kernel-lines", type=_positive_int, default=2, help="GRAPPA kernel lines")
    p.add_argument("--kernel-columns", type=_positive_int, default=5, help="GRAPPA kernel columns")
    p.add_argument("--iterations", type=_positive_int, default=None, help="SENSE/CS iterations")
    p.add_argument(
        "--regularisation",
        type=_non_negative,
        default=None,
        help="GRAPPA/SENSE Tikhonov weight, the CS L1 or GRASP temporal-TV weight (relative)",
    )
    p.add_argument("--coils", choices=("rss", "adaptive"), default="rss", help="GRAPPA only")
    p.add_argument(
        "--maps", choices=("espirit", "walsh"), default="espirit", help="SENSE/CS sensitivities"
    )
    p.add_argument(
        "--compress", default="N", help="virtual coils after coil compression; 0 or N keeps all"
    )
    p.add_argument("--threads", type=int, default=None, help="threads (default: vCPUs)")
    p.add_argument("--task-id", default="", help="the task's id, for the series' UIDs")
    p.add_argument("--description", default="", help="DICOM series description")
    p.add_argument("--series-number", type=int, default=1)
    return p


def reconstruct_file(
    raw_file: Path, out_dir: Path, args: argparse.Namespace, threads: int, wisdom: Path | None
) -> list[Path]:
    """Read ``raw_file``, reconstruct it by ``args.method`` and write its DICOM series."""
    import dataclasses

    from recon_image.dicom import write_series
    from recon_image.pipeline import cartesian, grappa, iterative
    from recon_image.pipeline.compressed_sensing import CompressedSensingOptions
    from recon_image.pipeline.fft import load_wisdom
    from recon_image.pipeline.scaling import to_dicom_integers
    from recon_image.pipeline.sense import SenseOptions
    from recon_image.raw.read import read_raw

    if wisdom is not None and wisdom.is_file():
        logger.info("FFTW wisdom loaded from %s: %s", wisdom, load_wisdom(wisdom))
    started = time.monotonic()
    try:
        kspace = read_raw(raw_file, method=args.method)
    except RawDataError as error:
        raise RawDataError(Path(error.path).name, error.offset, error.problem) from None
    read_s = time.monotonic() - started
    compress = coil_compression(args.compress)
    coils = kspace.coils
    radial = kspace.protocol.trajectory == "radial"
    if radial != (args.method == "grasp"):
        raise BadInput(
            f"the measurement's trajectory is {kspace.protocol.trajectory}; the {args.method}"
            f" method reconstructs {'radial' if args.method == 'grasp' else 'Cartesian'} data:"
            f" choose a {'GRASP' if radial else 'Cartesian'} mode"
        )
    volumes = kspace.volumes
    protocol = kspace.protocol
    if radial:
        magnitude, protocol, volumes = _grasp(kspace, args, threads)
    elif args.method == "grappa":
        options = grappa.GrappaOptions(kernel=(args.kernel_lines, args.kernel_columns))
        if args.regularisation is not None:
            options = dataclasses.replace(options, regularisation=args.regularisation)
        filled = grappa.reconstruct_kspace(kspace, options, threads=threads)
        magnitude = cartesian.reconstruct(
            filled,
            cartesian.CartesianOptions(coil_combination=args.coils, coil_compression=compress),
            threads=threads,
        )
    else:
        sense, cs = SenseOptions(), CompressedSensingOptions()
        changes = {}
        if args.iterations is not None:
            changes["iterations"] = args.iterations
        if args.regularisation is not None:
            changes["regularisation"] = args.regularisation
        if args.method == "sense":
            sense = dataclasses.replace(sense, **changes)
        else:
            cs = dataclasses.replace(cs, **changes)
        magnitude = iterative.reconstruct(
            kspace,
            iterative.IterativeOptions(
                method=args.method,
                sense=sense,
                cs=cs,
                coil_compression=compress,
                sensitivities=args.maps,
            ),
            threads=threads,
        )
    recon_s = time.monotonic() - started - read_s
    out_dir.mkdir(parents=True, exist_ok=True)
    files = write_series(
        to_dicom_integers(magnitude),
        protocol,
        out_dir,
        task_id=args.task_id or "unnamed",
        series_description=args.description or protocol.protocol_name or PROGRAM,
        series_number=args.series_number,
        volumes=volumes,
    )
    logger.info(
        "reconstructed %s by %s: %d coils, acceleration %s, %d images; read %.2f s, "
        "reconstruction %.2f s",
        raw_file.name,
        args.method,
        coils,
        "x".join(str(r) for r in protocol.acceleration),
        len(files),
        read_s,
        recon_s,
    )
    return files


def _grasp(
    kspace: KSpace, args: argparse.Namespace, threads: int
) -> tuple[np.ndarray, Protocol, tuple[VolumeLabel, ...]]:
    """GRASP frames of radial k-space: (magnitude, the images' protocol, one label per frame)."""
    import dataclasses

    import numpy as np

    from recon_image.pipeline import radial
    from recon_image.raw.kspace import VolumeLabel

    protocol = kspace.protocol
    size = protocol.matrix[0]
    spokes = kspace.data[0, :, 0]
    options = radial.GraspOptions(spokes_per_frame=args.spokes_per_frame)
    changes = {}
    if args.iterations is not None:
        changes["iterations"] = args.iterations
    if args.regularisation is not None:
        changes["regularisation"] = args.regularisation
    options = dataclasses.replace(options, **changes)
    angles = radial.spoke_angles(spokes.shape[1])
    frames = radial.grasp(spokes, angles, (size, size), options, threads=threads)
    magnitude = np.abs(frames)[:, None].astype(np.float32)
    labels = tuple(VolumeLabel(repetition=t) for t in range(frames.shape[0]))
    image_protocol = dataclasses.replace(
        protocol,
        matrix=(size, size, 1),
        fov_mm=(protocol.fov_mm[0], protocol.fov_mm[0], protocol.fov_mm[2]),
    )
    return magnitude, image_protocol, labels


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the program; return its exit code (0, 65 bad input, 70 internal fault)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    settings = ProgramSettings.from_env(env if env is not None else {})

    def run() -> None:
        args = parser().parse_args(argv)
        threads = args.threads if args.threads is not None else settings.threads
        if threads < 1:
            raise BadInput(f"--threads must be at least 1, not {threads}")
        if not args.raw_file.is_file():
            raise BadInput(
                f"the raw data file {args.raw_file.name} does not exist; upload it with the task"
            )
        reconstruct_file(args.raw_file, args.out_dir, args, threads, settings.fftw_wisdom)

    return run_guarded(PROGRAM, settings.error_file, run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
