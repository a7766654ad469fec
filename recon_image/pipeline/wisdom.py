"""Make FFTW wisdom for the transforms the Cartesian pipeline runs most, and save it.

    python -m recon_image.pipeline.wisdom OUT_FILE [--threads N] [--shape Z,LINES,COLS ...]

The container image runs this at build time; the worker loads the file at
start, so FFTW_MEASURE planning then takes milliseconds and picks the same
algorithms on every run. FFTW keeps wisdom per thread count: make it with
the thread count the worker will use (the instance's vCPUs) where that is
known. Wisdom already in OUT_FILE is kept and extended.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from recon_image.pipeline import fft
from recon_image.pipeline.cartesian import SLICE_GROUP

# Readout lengths (oversampled) of common matrices; images are half as wide, lines as many.
_READOUTS = (256, 384, 512, 640, 768)
# 3D slabs (partitions, lines, oversampled readout).
_SLABS = ((64, 256, 256), (128, 256, 256), (176, 256, 256), (192, 256, 512))


def common_problems(extra: list[tuple[int, int, int]]) -> list[tuple[tuple[int, ...], tuple]]:
    """(shape, axes) of the per-coil transforms the pipeline makes for common protocols."""
    problems: list[tuple[tuple[int, ...], tuple]] = []
    for wide in _READOUTS:
        columns = wide // 2
        lines = columns
        problems.append(((SLICE_GROUP, lines, wide), (2,)))
        problems.append(((SLICE_GROUP, lines, columns), (1,)))
        problems.append(((SLICE_GROUP, lines, columns), (1, 2)))
    for z, lines, wide in _SLABS:
        problems.append(((z, lines, wide), (2,)))
        problems.append(((z, lines, wide // 2), (0, 1)))
        problems.append(((z, lines, wide), (0, 1, 2)))
    for z, lines, wide in extra:
        problems.append(((z, lines, wide), (2,)))
        problems.append(((z, lines, wide), (1, 2)))
        problems.append(((z, lines, wide), (0, 1, 2)))
    return problems


def _shape(text: str) -> tuple[int, int, int]:
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
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--shape",
        type=_shape,
        action="append",
        default=[],
        help="another per-coil shape Z,LINES,COLS to plan (repeatable)",
    )
    parser.add_argument(
        "--only", action="store_true", help="plan only the --shape problems, not the common ones"
    )
    args = parser.parse_args(argv)
    fft.load_wisdom(args.out_file)
    problems = common_problems(args.shape)
    if args.only:
        problems = problems[len(common_problems([])) :]
    start = time.perf_counter()
    for shape, axes in problems:
        for direction in ("backward", "forward"):
            fft.plan(shape, axes, direction, args.threads)
        fft.clear_plans()
    fft.save_wisdom(args.out_file)
    print(
        f"planned {2 * len(problems)} transforms with {args.threads} threads in "
        f"{time.perf_counter() - start:.1f} s; wisdom in {args.out_file}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
