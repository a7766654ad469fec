"""Make a synthetic raw file: ``python -m scripts.phantoms OUT --format ve|vb|mrd --dim 2|3``.

Simulates a Shepp-Logan scan (``scan.py``; ``--epi``: a ramp-sampled 2D EPI
with PHASCOR navigators and an odd/even phase error, ``epi.py``) and writes it
as a Siemens TWIX VE or VB file or an MRD file, with a fictitious patient and
site in the header. ``--truth FILE.npy`` also saves the true image.
"""

from __future__ import annotations

import argparse
import dataclasses
from fractions import Fraction
from pathlib import Path

import numpy as np

from scripts.phantoms.epi import EpiSettings, simulate_epi
from scripts.phantoms.header import Patient, Site
from scripts.phantoms.mrd import write_mrd
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_vb import write_vb
from scripts.phantoms.twix_ve import write_ve

WRITERS = {"ve": write_ve, "vb": write_vb, "mrd": write_mrd}
SOFTWARE = {"ve": "syngo MR E11", "vb": "syngo MR B17", "mrd": ""}
EPI_PHASE_ERROR = (0.9, 0.03)  # rad, rad per oversampled column


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.phantoms", description=__doc__)
    parser.add_argument("out", type=Path, help="file to write (must not exist)")
    parser.add_argument("--format", choices=sorted(WRITERS), default="ve")
    parser.add_argument("--dim", type=int, choices=(2, 3), default=2)
    parser.add_argument(
        "--matrix",
        type=int,
        nargs=3,
        default=(64, 64, 4),
        metavar=("READ", "PHASE", "Z"),
        help="readout (without oversampling), phase lines, slices (2D) or partitions (3D)",
    )
    parser.add_argument("--coils", type=int, default=4)
    parser.add_argument("--oversampling", type=int, choices=(1, 2), default=2)
    parser.add_argument("--reflect", action="store_true", help="REFLECT every other line")
    parser.add_argument(
        "--partial-fourier", type=Fraction, default=Fraction(1), help="e.g. 6/8 (default 1)"
    )
    parser.add_argument("--averages", type=int, default=1)
    parser.add_argument("--noise-scans", type=int, default=8)
    parser.add_argument("--noise-sigma", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0, help="noise, coil phases and the patient")
    parser.add_argument(
        "--epi",
        action="store_true",
        help="a single-shot 2D EPI (TWIX only): ramp sampling, PHASCOR, odd/even phase error",
    )
    parser.add_argument("--truth", type=Path, help="also save the true image here (.npy)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.epi and (args.format == "mrd" or args.dim != 2):
        parser.error("--epi writes a 2D TWIX file (--format ve or vb, --dim 2)")
    settings = ScanSettings(
        dimension=args.dim,
        matrix=tuple(args.matrix),
        coils=args.coils,
        oversampling=args.oversampling,
        reflect=args.reflect,
        partial_fourier=float(args.partial_fourier),
        averages=args.averages,
        noise_scans=args.noise_scans,
        noise_sigma=args.noise_sigma,
        seed=args.seed,
    )
    settings = dataclasses.replace(settings, software_version=SOFTWARE[args.format])
    if args.epi:
        scan = simulate_epi(
            EpiSettings(
                matrix=tuple(args.matrix),
                coils=args.coils,
                phase_error=EPI_PHASE_ERROR,
                noise_sigma=args.noise_sigma,
                seed=args.seed,
                software_version=SOFTWARE[args.format],
            )
        )
    else:
        scan = simulate(settings)
    WRITERS[args.format](
        scan, args.out, patient=Patient.fictitious(args.seed), site=Site.fictitious(args.seed)
    )
    if args.truth:
        np.save(args.truth, scan.truth)
    print(f"{args.out}: {args.format} {args.dim}D {scan.kspace.shape[1:]} k-space")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
