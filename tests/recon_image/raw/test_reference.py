"""Parallel-imaging reference lines, separate (PATREFSCAN) and integrated (PATREFANDIMASCAN)."""

from __future__ import annotations

import numpy as np
import pytest

from recon_image.raw.read import read_raw
from scripts.phantoms.scan import ScanSettings, simulate

CASES = {
    "2d-integrated": ScanSettings(
        dimension=2,
        matrix=(48, 64, 3),
        acceleration=(2, 1),
        reference_lines=(24, 0),
        reflect=True,
        seed=5,
    ),
    "2d-separate": ScanSettings(
        dimension=2,
        matrix=(48, 64, 3),
        acceleration=(3, 1),
        reference_lines=(16, 0),
        reference="separate",
        seed=6,
    ),
    "3d-separate": ScanSettings(
        dimension=3,
        matrix=(32, 32, 16),
        acceleration=(2, 2),
        reference_lines=(12, 8),
        reference="separate",
        seed=7,
    ),
}


@pytest.mark.parametrize("fmt", ["ve", "vb", "mrd"])
@pytest.mark.parametrize("case", list(CASES))
def test_reference_lines_are_kept_beside_the_undersampled_image(fmt, case, write_raw) -> None:
    simulated = simulate(CASES[case])
    kspace = read_raw(write_raw(fmt, simulated))

    assert np.array_equal(kspace.data, simulated.kspace)
    assert np.array_equal(kspace.sampled, simulated.sampled)
    reference = kspace.reference
    assert reference is not None
    assert (reference.first_z, reference.first_line) == simulated.reference_first
    assert np.array_equal(reference.data, simulated.reference)
    assert reference.sampled.all()
    assert kspace.protocol.acceleration == simulated.protocol.acceleration
    if fmt != "mrd":
        assert kspace.protocol.reference_lines == simulated.protocol.reference_lines


def test_undersampled_lattice_holds_the_centre_and_every_rth_line() -> None:
    simulated = simulate(CASES["2d-separate"])
    lines = np.flatnonzero(simulated.sampled[0])
    assert 32 in lines
    assert set(np.diff(lines)) == {3}
    integrated = simulate(CASES["2d-integrated"])
    assert integrated.sampled[0, 20:44].all()
    assert integrated.sampled[0, ::2].all() and not integrated.sampled[0, 1:20:2].any()


def test_fully_sampled_scan_has_no_reference(write_raw) -> None:
    simulated = simulate(ScanSettings(dimension=2, matrix=(32, 32, 2), coils=2))
    assert read_raw(write_raw("ve", simulated)).reference is None
