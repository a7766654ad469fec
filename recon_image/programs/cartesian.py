"""``yc-cartesian``: the built-in Cartesian reconstruction a mode names.

``python -m recon_image.programs.cartesian RAW_FILE OUT_DIR [options]`` reads
Siemens TWIX (VB, VD/VE/XA) or ISMRMRD/MRD raw data, reconstructs it with the
FFTW pipeline and writes one DICOM series into ``OUT_DIR``. Input that cannot
be reconstructed exits 65 with the reason (also in the runner's error file);
a fault of the program itself exits 70.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from recon_image.errors import (
    BadInput,
    RawDataError,
)
from recon_image.programs import run_guarded
from recon_image.settings import ProgramSettings

logger = logging.getLogger("yarracloud.cartesian")

NO_COMPRESSION = {"", "n", "0", "none"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise BadInput(f"{message}; fix the mode's Args")


def parser() -> argparse.ArgumentParser:
    """The program's command line."""
    p = _Parser(prog="yc-cartesian", description=__doc__.splitlines()[0])
    p.add_argument("raw_file", type=Path, help="TWIX .dat or MRD .h5 file")
    p.add_argument("out_dir", type=Path, help="folder for the DICOM series")
    p.add_argument("--partial-fourier", choices=("zero", "pocs", "homodyne"), default="zero")
    p.add_argument("--coils", choices=("rss", "adaptive"), default="rss")
    p.add_argument(
        "--compress",
        default="N",
        help="virtual coils after coil compression; 0 or N keeps every coil",
    )
    p.add_argument("--threads", type=int, default=None, help="FFTW threads (default: vCPUs)")
    p.add_argument("--task-id", default="", help="the task's id, for the series' UIDs")
    p.add_argument("--description", default="", help="DICOM series description")
    p.add_argument("--series-number", type=int, default=1)
    return p


def coil_compression(value: str) -> int | None:
    """``--compress``: None for no compression (``0``, ``N``, empty), else the virtual coils.

    Raises
    ------
    BadInput
        When it is neither a whole number nor ``N``.
    """
    text = value.strip()
    if text.lower() in NO_COMPRESSION:
        return None
    try:
        number = float(text)
    except ValueError:
        raise BadInput(
            f"the mode parameter {value!r} is not a number of virtual coils; give a whole"
            " number (0 keeps every coil)"
        ) from None
    if number != int(number) or number < 0:
        raise BadInput(f"the number of virtual coils must be a whole number >= 0, not {value!r}")
    return int(number) or None


def reconstruct_file(
    raw_file: Path,
    out_dir: Path,
    *,
    partial_fourier: str = "zero",
    coils: str = "rss",
    compress: int | None = None,
    threads: int = 1,
    task_id: str = "",
    description: str = "",
    series_number: int = 1,
    wisdom: Path | None = None,
) -> list[Path]:
    """Read ``raw_file``, reconstruct it and write its DICOM series into ``out_dir``.

    Returns
    -------
    list of Path
        The DICOM files written.

    Raises
    ------
    BadInput
        Raw data that cannot be read or reconstructed (RawDataError, TooLarge …).
    """
    from recon_image.raw.read import read_raw

    # pyfftw (which loads scipy) and pydicom take longer to import than a 0.5 GiB file takes
    # to read: they load on another thread meanwhile, while the read copies without the GIL
    imports = threading.Thread(target=_import_reconstruction, daemon=True)
    imports.start()
    started = time.monotonic()
    try:
        kspace = read_raw(raw_file, method="cartesian")
        read_s = time.monotonic() - started
    except RawDataError as error:
        # The site knows the file by its name; the worker's folders mean nothing there.
        raise RawDataError(Path(error.path).name, error.offset, error.problem) from None
    finally:
        imports.join()
    from recon_image.dicom import write_series
    from recon_image.pipeline.cartesian import CartesianOptions, reconstruct
    from recon_image.pipeline.fft import load_wisdom
    from recon_image.pipeline.scaling import to_dicom_integers

    if wisdom is not None and wisdom.is_file():
        logger.info("FFTW wisdom loaded from %s: %s", wisdom, load_wisdom(wisdom))
    if kspace.protocol.trajectory != "cartesian":
        raise BadInput(
            f"the measurement is {kspace.protocol.trajectory}, not Cartesian; choose a mode for"
            " radial data (GRASP)"
        )
    options = CartesianOptions(
        partial_fourier=partial_fourier,  # type: ignore[arg-type]
        coil_combination=coils,  # type: ignore[arg-type]
        coil_compression=compress,
    )
    started = time.monotonic()
    magnitude = reconstruct(kspace, options, threads=threads)
    recon_s = time.monotonic() - started
    written = time.monotonic()
    pixels = to_dicom_integers(magnitude)
    protocol = kspace.protocol
    out_dir.mkdir(parents=True, exist_ok=True)
    files = write_series(
        pixels,
        protocol,
        out_dir,
        task_id=task_id or "unnamed",
        series_description=description or protocol.protocol_name or "yc-cartesian",
        series_number=series_number,
        volumes=kspace.volumes,
    )
    logger.info(
        "reconstructed %s: %d coils, k-space %s, %d images; read %.2f s, reconstruction %.2f s,"
        " DICOM write %.2f s",
        raw_file.name,
        kspace.coils,
        "x".join(str(n) for n in kspace.data.shape),
        len(files),
        read_s,
        recon_s,
        time.monotonic() - written,
    )
    return files


def _import_reconstruction() -> None:
    """Load the reconstruction's and the DICOM writer's modules; a failure shows on import."""
    with contextlib.suppress(ImportError):
        import recon_image.dicom
        import recon_image.pipeline.cartesian  # noqa: F401


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
        reconstruct_file(
            args.raw_file,
            args.out_dir,
            partial_fourier=args.partial_fourier,
            coils=args.coils,
            compress=coil_compression(args.compress),
            threads=threads,
            task_id=args.task_id,
            description=args.description,
            series_number=args.series_number,
            wisdom=settings.fftw_wisdom,
        )

    return run_guarded("yc-cartesian", settings.error_file, run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
