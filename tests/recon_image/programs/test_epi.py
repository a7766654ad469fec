"""A ramp-sampled EPI with PHASCOR navigators through ``yc-cartesian``, as the worker runs it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom

from recon_image.pipeline.cartesian import CartesianOptions, reconstruct
from recon_image.programs.cartesian import main
from recon_image.raw.read import read_measurement
from recon_image.raw.sort import sort_readouts
from scripts.phantoms.epi import EpiSettings, simulate_epi
from scripts.phantoms.scan import SimulatedScan
from scripts.phantoms.twix_ve import write_ve

MATRIX = (128, 64, 2)
PHASE_ERROR = (0.9, 0.03)  # rad, rad per oversampled column: a 1.2-column echo shift
NOISE = 0.5  # a background of about 0.07 of the object, as on a real EPI


def epi_file(
    tmp_path: Path, name: str, phase_error: tuple[float, float]
) -> tuple[Path, SimulatedScan]:
    scan = simulate_epi(
        EpiSettings(matrix=MATRIX, phase_error=phase_error, noise_sigma=NOISE, seed=11)
    )
    return write_ve(scan, tmp_path / f"{name}.dat"), scan


def reconstructed(tmp_path: Path, raw: Path) -> np.ndarray:
    out = tmp_path / f"{raw.stem}-dicom"
    assert main([str(raw), str(out), "--task-id", "epi"], env={}) == 0
    datasets = sorted(
        (pydicom.dcmread(f) for f in out.glob("*.dcm")), key=lambda d: d.InstanceNumber
    )
    return np.stack([d.pixel_array.astype(np.float64) for d in datasets])


def ghost_ratio(images: np.ndarray) -> float:
    """Mean magnitude in the bands above and below the object over the mean inside it.

    The object fills the middle half of the field of view; its N/2 ghosts land
    in the outer quarters of the phase-encoding axis, which the band covers
    across the object's columns (one column's margin left out on each side).
    """
    _, rows, columns = images.shape
    band_columns = slice(columns // 4 + 1, 3 * columns // 4 - 1)
    outside = np.concatenate(
        [
            images[:, 1 : rows // 4 - 1, band_columns],
            images[:, 3 * rows // 4 + 1 : -1, band_columns],
        ],
        axis=1,
    )
    inside = images[:, rows // 4 + 1 : 3 * rows // 4 - 1, band_columns]
    return float(outside.mean() / inside.mean())


def readout_width(images: np.ndarray) -> float:
    """The object's width in pixels along the readout, between the half-peak crossings."""
    profile = images.mean(axis=(0, 1))
    half = profile.max() / 2
    above = np.flatnonzero(profile >= half)
    left, right = above[0], above[-1]
    rise = left - 1 + (half - profile[left - 1]) / (profile[left] - profile[left - 1])
    fall = right + (profile[right] - half) / (profile[right] - profile[right + 1])
    return float(fall - rise)


def uncorrected(raw: Path) -> np.ndarray:
    """The image of a reader that neither regrids nor phase-corrects (it only reverses)."""
    kspace = sort_readouts(read_measurement(raw))
    return reconstruct(kspace, CartesianOptions())[0]


def test_epi_is_regridded_and_phase_corrected(tmp_path: Path) -> None:
    clean_raw, scan = epi_file(tmp_path, "clean", (0.0, 0.0))
    raw, _ = epi_file(tmp_path, "phase-error", PHASE_ERROR)

    clean = reconstructed(tmp_path, clean_raw)
    images = reconstructed(tmp_path, raw)
    before = uncorrected(raw)

    truth_width = readout_width(scan.truth)
    ratios = {
        name: ghost_ratio(i)
        for name, i in (("clean", clean), ("corrected", images), ("uncorrected", before))
    }
    widths = {
        name: readout_width(i) / truth_width
        for name, i in (("corrected", images), ("uncorrected", before))
    }
    print(
        f"\nEPI {MATRIX}, phase error {PHASE_ERROR}: ghost ratio {ratios}, width / truth {widths}"
    )
    assert images.shape == scan.truth.shape
    assert ratios["corrected"] <= 1.5 * ratios["clean"]
    assert abs(widths["corrected"] - 1) <= 0.02
    # the checks can fail: the same file without regridding and phase correction
    assert ratios["uncorrected"] > 3 * ratios["clean"]
    assert widths["uncorrected"] > 1.15
