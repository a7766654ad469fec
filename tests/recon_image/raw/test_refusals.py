"""What no built-in reconstruction gets right is refused, with the header evidence, never imaged.

Each case is a raw file as a scanner would write it, run through the program a
mode names; the task fails as bad input (65) with the reason the site reads.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from recon_image.errors import EXIT_BAD_INPUT
from recon_image.programs import cartesian, parallel
from recon_image.raw.readouts import Flag
from scripts.phantoms.epi import TRAPEZOID, EpiSettings, simulate_epi
from scripts.phantoms.radial import as_scan, simulate_radial
from scripts.phantoms.scan import ScanSettings, SimulatedScan, simulate
from scripts.phantoms.twix_ve import write_ve


def epi(ramp_mode: int = 2, **protocol: object) -> SimulatedScan:
    scan = simulate_epi(EpiSettings(matrix=(64, 16, 2), coils=2))
    protocol.setdefault(
        "ramp_sampling", dataclasses.replace(scan.protocol.ramp_sampling, mode=ramp_mode)
    )
    return dataclasses.replace(scan, protocol=dataclasses.replace(scan.protocol, **protocol))


def cartesian_scan(**settings: object) -> SimulatedScan:
    return simulate(ScanSettings(matrix=(32, 32, 2), coils=2, **settings))


def with_extra(scan: SimulatedScan, flags: int, seg: int = 0) -> SimulatedScan:
    """``scan`` with a copy of its first eight readouts appended, flagged ``flags``."""
    extra = scan.readouts[:8].copy()
    extra["flags"] = flags
    extra["seg"] = seg
    return dataclasses.replace(
        scan,
        readouts=np.concatenate([scan.readouts, extra]),
        samples=np.concatenate([scan.samples, scan.samples[:8]]),
    )


def without(scan: SimulatedScan, flag: Flag) -> SimulatedScan:
    keep = (scan.readouts["flags"] & flag.mask) == 0
    return dataclasses.replace(scan, readouts=scan.readouts[keep], samples=scan.samples[keep])


def off_centre(scan: SimulatedScan, mm: float) -> SimulatedScan:
    readouts = scan.readouts.copy()
    readouts["readout_offcentre"] = mm
    return dataclasses.replace(scan, readouts=readouts)


def radial_with_ramps() -> SimulatedScan:
    scan = as_scan(simulate_radial(size=32, coils=2, frames=2, spokes_per_frame=8))
    ramp = dataclasses.replace(TRAPEZOID, destination_samples=64)
    return dataclasses.replace(
        scan, protocol=dataclasses.replace(scan.protocol, ramp_sampling=ramp)
    )


CASES: dict[str, tuple[Callable[[], SimulatedScan], str, list[str]]] = {
    "readouts it does not regrid": (
        lambda: epi(ramp_mode=8),
        "regridding mode 8",
        ["alRegridMode = 8"],
    ),
    "ramps that leave k = 0 ambiguous": (
        lambda: epi(ramp_sampling=dataclasses.replace(TRAPEZOID, rampdown_us=200.0)),
        "not symmetric, so where k = 0 lies",
        ["alRegridRampupTime = 150", "alRegridRampdownTime = 200"],
    ),
    "a regridded length other than the acquired one": (
        lambda: epi(ramp_sampling=dataclasses.replace(TRAPEZOID, destination_samples=96)),
        "regridded onto 96",
        ["alRegridDestSamples = 96"],
    ),
    "ramp-sampled readouts off-centre": (
        lambda: off_centre(epi(), 12.5),
        "shifted 12.5 mm off-centre along the readout",
        ["alRegridMode = 2", "ReadOutOffcentre = 12.5 mm"],
    ),
    "ramp-sampled radial trajectory": (
        radial_with_ramps,
        "radial readouts are ramp-sampled",
        ["alRegridMode = 2", "sKSpace.ucTrajectory = radial"],
    ),
    "phase-stabilisation navigators": (
        lambda: with_extra(cartesian_scan(), Flag.PHASESTABSCAN.mask),
        "phase-stabilisation navigators",
        ["8 readouts flagged PHASESTABSCAN"],
    ),
    "PHASCOR lines outside EPI": (
        lambda: with_extra(cartesian_scan(), Flag.PHASCOR.mask),
        "alternate no polarity",
        ["8 readouts flagged PHASCOR", "0 imaging readouts flagged REFLECT"],
    ),
    "EPI without its navigators": (
        lambda: without(epi(), Flag.PHASCOR),
        "EPI without PHASCOR navigators",
        ["sFastImaging.lEPIFactor = 16", "0 readouts flagged PHASCOR"],
    ),
    "segmented EPI": (
        lambda: epi(segments=2),
        "segmented (multi-shot) EPI",
        ["sFastImaging.lSegments = 2"],
    ),
    "multi-echo EPI": (
        lambda: epi(te_ms=(30.0, 60.0)),
        "multi-echo EPI",
        ["lContrasts = 2"],
    ),
    "simultaneous multi-slice EPI": (
        lambda: epi(multiband=3),
        "simultaneous multi-slice EPI",
        ["sSliceAcceleration.lMultiBandFactor = 3"],
    ),
    "segments it would mix": (
        lambda: with_extra(cartesian_scan(), Flag.ONLINE.mask, seg=1),
        "differ only in their segment",
        ["2 readouts at Lin 0", "their Seg counters [0, 1]"],
    ),
    "PAT reference scans without a mode that uses them": (
        lambda: cartesian_scan(reference_lines=(12, 0), reference="separate"),
        "reference scans that the cartesian reconstruction does not use",
        ["readouts flagged PATREFSCAN alone", "sPat.lRefLinesPE = 12"],
    ),
    "accelerated scan without a mode that fills it": (
        lambda: cartesian_scan(acceleration=(2, 1), reference_lines=(12, 0)),
        "accelerated (parallel imaging)",
        ["sPat.lAccelFactPE = 2"],
    ),
}


def refusal(program: Callable[..., int], raw: Path, tmp_path: Path, *args: str) -> str:
    error_file = tmp_path / "error.json"
    code = program([str(raw), str(tmp_path / "out"), *args], env={"YC_ERROR_FILE": str(error_file)})
    assert code == EXIT_BAD_INPUT
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    return json.loads(error_file.read_text())["reason"]


def test_a_trajectory_no_mode_handles_is_refused_with_its_header_value(tmp_path: Path) -> None:
    raw = write_ve(cartesian_scan(), tmp_path / "scan.dat")
    cartesian_code = b"sKSpace.ucTrajectory                     = 0x1"
    data = raw.read_bytes()
    assert cartesian_code in data
    raw.write_bytes(data.replace(cartesian_code, cartesian_code[:-1] + b"4"))  # spiral

    reason = refusal(cartesian.main, raw, tmp_path)

    assert "sKSpace.ucTrajectory = 4 is neither Cartesian (1) nor radial (2)" in reason
    assert "reconstruct it on the scanner" in reason


@pytest.mark.parametrize("case", list(CASES))
def test_the_cartesian_program_refuses_with_the_evidence(case: str, tmp_path: Path) -> None:
    make, problem, evidence = CASES[case]
    raw = write_ve(make(), tmp_path / "scan.dat")

    reason = refusal(cartesian.main, raw, tmp_path)

    print(f"\n{case}: {reason}")
    assert reason.startswith("scan.dat: ")
    assert problem in reason
    for item in evidence:
        assert item in reason


def test_a_parallel_imaging_mode_refuses_an_epi(tmp_path: Path) -> None:
    raw = write_ve(epi(), tmp_path / "scan.dat")

    reason = refusal(parallel.main, raw, tmp_path, "--method", "grappa")

    assert "EPI, which the grappa reconstruction does not phase-correct" in reason
    assert "choose a Cartesian mode" in reason
