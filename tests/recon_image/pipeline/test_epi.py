"""EPI readouts: the ramp trajectory, its regridding and the odd/even phase fit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import twixtools
from twixtools.recon_helpers import calc_regrid_traj

from recon_image.pipeline.epi import (
    odd_even_phase,
    regridding_matrix,
    sample_positions,
    supported_columns,
)
from recon_image.raw.read import read_measurement, read_raw
from scripts.phantoms.epi import TRAPEZOID, EpiSettings, gradient_positions, simulate_epi
from scripts.phantoms.twix_vb import write_vb
from scripts.phantoms.twix_ve import write_ve

WRITERS = {"ve": write_ve, "vb": write_vb}


@pytest.mark.parametrize("mode", [2, 4])
def test_sample_positions_agree_with_twixtools_on_the_header_it_reads(
    mode: int, tmp_path: Path
) -> None:
    ramp = dataclasses.replace(TRAPEZOID, mode=mode)
    path = write_ve(simulate_epi(EpiSettings(matrix=(128, 8, 1), ramp=ramp)), tmp_path / "e.dat")
    header = twixtools.read_twix(str(path), parse_data=False)[-1]["hdr"]
    protocol = read_measurement(path).protocol
    assert protocol.ramp_sampling == ramp

    theirs = calc_regrid_traj(header, ncol=256)
    step = 128 / 220.0 / 256  # twixtools' k in 1/mm: base resolution over FOV, per column
    ours = sample_positions(ramp, 256)
    print(
        f"\nalRegridMode {mode}: largest difference {np.abs(theirs / step - ours).max():.4f} steps"
    )
    assert np.abs(theirs / step - ours).max() < 0.01


@pytest.mark.parametrize("mode", [2, 4])
def test_sample_positions_are_the_integrated_gradient(mode: int) -> None:
    ramp = dataclasses.replace(TRAPEZOID, mode=mode)
    assert np.abs(sample_positions(ramp, 256) - gradient_positions(ramp, 256)).max() < 1e-4
    ours = sample_positions(TRAPEZOID, 256)
    spacing = np.diff(ours)
    assert spacing.min() < 0.2 and 1.25 < spacing.max() < 1.35  # ramps dense, flat top sparse
    assert supported_columns(ours) >= 128


def test_regridding_puts_a_ramp_sampled_readout_on_the_uniform_grid() -> None:
    n = 256
    x = np.arange(n) - n // 2
    rng = np.random.default_rng(3)
    profile = np.zeros(n, dtype=np.complex128)
    profile[64:192] = rng.standard_normal(128) + 1j * rng.standard_normal(128)
    positions = sample_positions(TRAPEZOID, n)
    uniform = np.exp(-2j * np.pi * np.outer(x, x) / n) @ profile
    for sign in (1, -1):  # forward, and reflected in acquisition order
        acquired = np.exp(-2j * np.pi * np.outer(sign * positions, x) / n) @ profile
        regridded = regridding_matrix(sign * positions) @ acquired
        assert np.linalg.norm(regridded - uniform) / np.linalg.norm(uniform) < 1e-5


def test_odd_even_phase_is_fitted_from_noisy_navigators() -> None:
    n = 256
    x = np.arange(n) - n // 2
    rng = np.random.default_rng(4)
    profile = np.zeros((4, n), dtype=np.complex64)
    profile[:, 64:192] = np.exp(1j * rng.uniform(-np.pi, np.pi, (4, 1)))
    noise = 0.05 * (rng.standard_normal((2, 4, n)) + 1j * rng.standard_normal((2, 4, n)))
    forward = profile + noise[0]
    reflected = profile * np.exp(1j * (2.5 + 0.04 * x)) + noise[1]
    constant, slope = odd_even_phase(forward, reflected)
    assert abs(constant - 2.5) < 0.02 and abs(slope - 0.04) < 0.001


@pytest.mark.parametrize(("fmt", "mode"), [("ve", 2), ("vb", 2), ("ve", 4)])
def test_an_epi_file_reads_as_the_uniform_kspace_of_its_object(
    fmt: str, mode: int, tmp_path: Path
) -> None:
    ramp = dataclasses.replace(TRAPEZOID, mode=mode)
    settings = EpiSettings(matrix=(64, 32, 3), ramp=ramp, phase_error=(-2.0, 0.05), seed=1)
    scan = simulate_epi(settings)
    path = WRITERS[fmt](scan, tmp_path / f"epi-{fmt}.dat")

    kspace = read_raw(path, method="cartesian")

    error = np.linalg.norm(kspace.data - scan.kspace) / np.linalg.norm(scan.kspace)
    assert error < 1e-5
    assert kspace.sampled.all() and kspace.protocol.epi_factor == 32


def test_each_repetition_is_corrected_by_its_own_navigators(tmp_path: Path) -> None:
    settings = EpiSettings(
        matrix=(64, 32, 2), repetitions=3, phase_error=(0.3, 0.01), phase_drift=(1.2, 0.02)
    )
    scan = simulate_epi(settings)
    path = write_ve(scan, tmp_path / "epi.dat")

    kspace = read_raw(path, method="cartesian")

    assert kspace.data.shape[0] == 3
    error = np.linalg.norm(kspace.data - scan.kspace) / np.linalg.norm(scan.kspace)
    assert error < 1e-5


def test_an_epi_without_ramp_sampling_is_phase_corrected(tmp_path: Path) -> None:
    # a reflected readout reversed lands one column off a forward one: the fitted slope takes it
    scan = simulate_epi(EpiSettings(matrix=(64, 32, 2), ramp=None, phase_error=(0.5, 0.0)))
    path = write_ve(scan, tmp_path / "epi.dat")

    kspace = read_raw(path, method="cartesian")

    assert kspace.protocol.ramp_sampling is None
    error = np.linalg.norm(kspace.data - scan.kspace) / np.linalg.norm(scan.kspace)
    assert error < 1e-4
