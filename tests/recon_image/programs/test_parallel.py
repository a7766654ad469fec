"""The built-in program ``yc-parallel`` as the shipped GRAPPA, SENSE and CS modes run it."""

from __future__ import annotations

from pathlib import Path

import pytest

from recon_image.errors import EXIT_BAD_INPUT
from recon_image.modes.modefile import find_mode
from recon_image.modes.runner import run_mode
from recon_image.programs.parallel import main
from recon_image.settings import BUILTIN_MODES_DIR
from scripts.phantoms.mrd import write_mrd
from scripts.phantoms.numeric import nrmse
from scripts.phantoms.radial import as_scan, simulate_radial
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_ve import write_ve
from tests.recon_image.pipeline.undersampled import undersampled, zero_filled
from tests.recon_image.programs.test_cartesian import job_for, read_images

SETTINGS = {
    "dimension": 2,
    "matrix": (64, 64, 2),
    "coils": 8,
    "acceleration": (2, 1),
    "reference_lines": (24, 0),
    "noise_sigma": 0.05,
    "noise_scans": 16,
    "seed": 12,
}


@pytest.mark.parametrize(
    ("mode_id", "param", "description"),
    [
        ("yc_grappa", "5", "GRAPPA"),
        ("yc_sense", "15", "CG-SENSE"),
        ("yc_cs", "0.002", "Compressed sensing L1-wavelet"),
    ],
)
def test_the_shipped_mode_reconstructs_an_undersampled_twix_file(
    tmp_path: Path, mode_id: str, param: str, description: str
) -> None:
    scan = simulate(ScanSettings(**SETTINGS))  # type: ignore[arg-type]
    raw = write_ve(scan, tmp_path / "scan.dat")
    _, kspace = undersampled(**SETTINGS)
    zero = nrmse(zero_filled(kspace)[0], scan.truth)

    result = run_mode(find_mode(BUILTIN_MODES_DIR, mode_id), job_for(raw, tmp_path / "w", param))

    pixels, datasets = read_images(result.files)
    error = nrmse(pixels, scan.displayed_truth)
    print(f"\n{mode_id}.mode, R=2, 24 reference lines: zero-filled {zero:.4f}, {error:.4f}")
    assert pixels.shape == scan.truth.shape
    assert error < zero / 5
    assert datasets[0].SeriesDescription == description


def test_a_bad_parameter_is_bad_input_naming_it(tmp_path: Path, capsys) -> None:
    raw = tmp_path / "scan.dat"
    raw.write_bytes(b"x")
    code = main([str(raw), str(tmp_path / "out"), "--method", "sense", "--iterations", "many"])
    assert code == EXIT_BAD_INPUT
    assert "'many' is not a whole number" in capsys.readouterr().err


def test_an_unaccelerated_file_without_reference_lines_is_bad_input(tmp_path: Path, capsys):
    scan = simulate(ScanSettings(matrix=(32, 32, 1), coils=4))
    raw = write_ve(scan, tmp_path / "scan.dat")
    code = main([str(raw), str(tmp_path / "out"), "--method", "cs"])
    assert code == EXIT_BAD_INPUT
    assert "no reference" in capsys.readouterr().err


@pytest.mark.parametrize(("write", "name"), [(write_ve, "radial.dat"), (write_mrd, "radial.h5")])
def test_the_grasp_mode_reconstructs_a_radial_file_frame_by_frame(
    tmp_path: Path, write, name: str
) -> None:
    radial = simulate_radial(size=48, coils=6, frames=4, spokes_per_frame=13, noise_sigma=0.05)
    scan = as_scan(radial)
    raw = write(scan, tmp_path / name)

    mode = find_mode(BUILTIN_MODES_DIR, "yc_grasp")
    result = run_mode(mode, job_for(raw, tmp_path / "w", "13"))

    pixels, datasets = read_images(result.files)
    error = nrmse(pixels, scan.displayed_truth)
    print(f"\nyc_grasp.mode, {name}, 4 frames of 13 spokes: NRMSE {error:.4f}")
    assert pixels.shape == radial.truth.shape
    assert error < 0.3
    assert datasets[0].SeriesDescription == "GRASP radial"


def test_a_radial_file_in_a_cartesian_mode_is_bad_input(tmp_path: Path, capsys) -> None:
    radial = simulate_radial(size=32, coils=2, frames=1, spokes_per_frame=8)
    raw = write_ve(as_scan(radial), tmp_path / "radial.dat")
    code = main([str(raw), str(tmp_path / "out"), "--method", "sense"])
    assert code == EXIT_BAD_INPUT
    assert "radial" in capsys.readouterr().err
