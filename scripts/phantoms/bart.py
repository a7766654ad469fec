"""BART (``bart`` command line) as a reference reconstruction: .cfl files in, images out.

Arrays of ours are (coils, rows, cols); BART's dimensions are (read, phase,
slice, coil, ...), so a problem is written as (rows, cols, 1, coils).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def available() -> bool:
    """Whether the ``bart`` command is installed."""
    return shutil.which("bart") is not None


def write_cfl(base: Path, array: np.ndarray) -> None:
    """Write ``array`` as BART's ``base.hdr`` / ``base.cfl`` (complex64, column-major)."""
    dims = list(array.shape) + [1] * max(0, 16 - array.ndim)
    base.with_suffix(".hdr").write_text("# Dimensions\n" + " ".join(map(str, dims)) + "\n")
    np.asarray(array, dtype=np.complex64).ravel(order="F").tofile(base.with_suffix(".cfl"))


def read_cfl(base: Path) -> np.ndarray:
    """Read ``base.hdr`` / ``base.cfl`` without trailing singleton dimensions."""
    dims = [int(d) for d in base.with_suffix(".hdr").read_text().splitlines()[1].split()]
    while len(dims) > 1 and dims[-1] == 1:
        dims.pop()
    data = np.fromfile(base.with_suffix(".cfl"), dtype=np.complex64)
    return data.reshape(dims, order="F")


def _to_bart(coil_array: np.ndarray) -> np.ndarray:
    return np.moveaxis(coil_array, 0, -1)[:, :, None, :]


@dataclass(frozen=True)
class BartResult:
    """A BART reconstruction's image (rows, cols) and wall time of the ``bart`` process."""

    image: np.ndarray
    seconds: float


def pics(kspace: np.ndarray, maps: np.ndarray, flags: list[str], *, threads: int = 1) -> BartResult:
    """``bart pics FLAGS kspace maps out`` on one 2D problem; kspace and maps (coils, rows, cols).

    The k-space is given unscaled (``-w 1`` is added unless ``flags`` name a
    scaling), so regularisation weights mean the same as for our operators on
    the unitary transform.
    """
    with tempfile.TemporaryDirectory(prefix="bart-") as folder:
        root = Path(folder)
        write_cfl(root / "k", _to_bart(kspace))
        write_cfl(root / "s", _to_bart(maps))
        extra = [] if "-w" in flags else ["-w", "1"]
        command = [
            "bart",
            "pics",
            *extra,
            *flags,
            str(root / "k"),
            str(root / "s"),
            str(root / "x"),
        ]
        env = {"OMP_NUM_THREADS": str(threads), "PATH": "/usr/bin:/bin"}
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        seconds = time.perf_counter() - started
        return BartResult(image=read_cfl(root / "x").reshape(kspace.shape[1:]), seconds=seconds)


def ecalib(calibration: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``bart ecalib -m 1`` maps (coils, rows, cols) from zero-padded calibration k-space."""
    coils = calibration.shape[0]
    padded = np.zeros((coils, *shape), dtype=np.complex64)
    lines, cols = calibration.shape[1:]
    top, left = shape[0] // 2 - lines // 2, shape[1] // 2 - cols // 2
    padded[:, top : top + lines, left : left + cols] = calibration
    with tempfile.TemporaryDirectory(prefix="bart-") as folder:
        root = Path(folder)
        write_cfl(root / "k", _to_bart(padded))
        subprocess.run(
            ["bart", "ecalib", "-m", "1", str(root / "k"), str(root / "s")],
            check=True,
            capture_output=True,
        )
        maps = read_cfl(root / "s").reshape(*shape, coils)
    return np.moveaxis(maps, -1, 0)
