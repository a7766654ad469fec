"""Make FFTW wisdom for every transform the built-in modes make for the protocols we support.

    python -m recon_image.pipeline.wisdom OUT [--slab P,L,C ...] [--slices S,L,C ...]

The container image runs this at build time, so that planning is paid once there and
not per job: a job takes its measured plans from the wisdom in microseconds, and plans a
shape outside it with FFTW_ESTIMATE in milliseconds (``fft``'s module note says why).
The pipeline transforms coils side by side, one per thread, with single-threaded plans,
so the same wisdom serves every instance size. Wisdom already in OUT_FILE is kept and
extended.

The protocols supported (image matrix; k-space zero-filled or partial Fourier):

- 2D: readout 128 to 512 in steps of 64 (acquired 2x oversampled or not), phase lines as
  many or 3/4 of them, any number of slices (transformed in groups of ``SLICE_GROUP``, so
  every remainder too);
- 3D: readout 128, 192, 256, 320, 384 or 512 (acquired 2x oversampled, as Siemens
  scanners store it), phase lines as many, 3/4 or 1/2 of them, and 32, 48, 64, 96, 128,
  160, 192 or 256 partitions.

``--slab`` and ``--slices`` add a site's own 3D and 2D protocols, acquired with or without
readout oversampling.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from recon_image.pipeline import fft
from recon_image.pipeline.cartesian import SLICE_GROUP, Problem, transform_problems

_COLUMNS_2D = tuple(range(128, 513, 64))
_COLUMNS_3D = (128, 192, 256, 320, 384, 512)
_PARTITIONS = (32, 48, 64, 96, 128, 160, 192, 256)


def supported_protocols() -> list[tuple[bool, int, int, int]]:
    """(three_d, slices or partitions, phase lines, image columns) of every supported protocol."""
    protocols = [
        (False, slices, lines, columns)
        for columns in _COLUMNS_2D
        for lines in (columns * 3 // 4, columns)
        for slices in range(SLICE_GROUP, 2 * SLICE_GROUP)
    ]
    protocols += [
        (True, partitions, lines, columns)
        for columns in _COLUMNS_3D
        for lines in (columns // 2, columns * 3 // 4, columns)
        for partitions in _PARTITIONS
    ]
    return protocols


def problems_of(
    protocols: list[tuple[bool, int, int, int]], *, any_readout: bool = False
) -> list[Problem]:
    """The distinct per-coil transforms the built-in modes make for ``protocols``.

    Raw 3D readouts are always 2x oversampled on Siemens scanners, 2D ones either way;
    ``any_readout`` plans 3D protocols both ways too (a site's own protocols, whose data
    may come from an MRD file without oversampling).
    """
    found: dict[Problem, None] = {}
    for three_d, z, lines, columns in protocols:
        either = not three_d or any_readout
        for wide in (columns, 2 * columns) if either else (2 * columns,):
            for lines_in_fft in (True, False):
                first, rest = transform_problems(
                    three_d=three_d,
                    z=z,
                    lines=lines,
                    wide=wide,
                    columns=columns,
                    lines_in_fft=lines_in_fft,
                )
                found.update(dict.fromkeys(first + rest))
    return list(found)


def _matrix(text: str) -> tuple[int, int, int]:
    try:
        z, lines, columns = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected Z,LINES,COLS, got {text!r}") from None
    return z, lines, columns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recon_image.pipeline.wisdom",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out_file", type=Path)
    parser.add_argument(
        "--slab",
        type=_matrix,
        action="append",
        default=[],
        help="a 3D protocol of the site's own: PARTITIONS,LINES,COLUMNS (repeatable)",
    )
    parser.add_argument(
        "--slices",
        type=_matrix,
        action="append",
        default=[],
        help="a 2D protocol of the site's own: SLICES,LINES,COLUMNS (repeatable)",
    )
    parser.add_argument(
        "--only", action="store_true", help="plan only the --slab and --slices protocols"
    )
    args = parser.parse_args(argv)
    fft.load_wisdom(args.out_file)
    extra = [(True, *m) for m in args.slab] + [(False, *m) for m in args.slices]
    builtin = [] if args.only else problems_of(supported_protocols())
    problems = list(dict.fromkeys(builtin + problems_of(extra, any_readout=True)))
    start = time.perf_counter()
    for shape, axes in problems:
        fft.plan(shape, axes, "backward", effort="build")
        fft.clear_plans()
    fft.save_wisdom(args.out_file)
    print(
        f"planned {len(problems)} transforms in {time.perf_counter() - start:.1f} s;"
        f" wisdom in {args.out_file}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
