"""The built-in program ``yc-cartesian``, alone and as the shipped modes run it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from recon_image.errors import EXIT_BAD_INPUT, BadInput, RawDataError
from recon_image.modes.modefile import find_mode
from recon_image.modes.runner import ModeJob, run_mode
from recon_image.programs.cartesian import coil_compression, main
from recon_image.settings import BUILTIN_MODES_DIR
from scripts.phantoms.numeric import nrmse
from scripts.phantoms.scan import ScanSettings, SimulatedScan, simulate
from scripts.phantoms.twix_ve import write_ve


def scan_file(tmp_path: Path, **settings: object) -> tuple[SimulatedScan, Path]:
    scan = simulate(ScanSettings(matrix=(64, 64, 4), coils=4, seed=3, **settings))
    return scan, write_ve(scan, tmp_path / "scan.dat")


def job_for(raw: Path, work: Path, param: str = "") -> ModeJob:
    work.mkdir()
    task = raw.parent / "scan.task"
    task.write_text("[Task]\n")
    return ModeJob(
        task_id="0b7f3f5e-0000-4000-8000-000000000001",
        work_dir=work,
        scan_file=raw,
        task_file=task,
        param=param,
        modules_dir=work / "modules",
        user_modules_dir=work / "modules",
        modes_dir=BUILTIN_MODES_DIR,
        threads=1,
        env={"PATH": "/usr/bin:/bin"},
        step_timeout_s=300,
    )


def read_images(files: list[Path] | tuple[Path, ...]) -> tuple[np.ndarray, list[pydicom.Dataset]]:
    datasets = sorted((pydicom.dcmread(f) for f in files), key=lambda d: int(d.InstanceNumber))
    return np.stack([d.pixel_array.astype(np.float64) for d in datasets]), datasets


def test_the_shipped_rss_mode_turns_a_twix_file_into_the_phantom(tmp_path: Path) -> None:
    scan, raw = scan_file(tmp_path, oversampling=2, reflect=True)

    result = run_mode(find_mode(BUILTIN_MODES_DIR, "yc_cartesian"), job_for(raw, tmp_path / "w"))

    pixels, datasets = read_images(result.files)
    error = nrmse(pixels, scan.displayed_truth)
    print(f"yc_cartesian.mode on a 2D VE file, 4 coils, 4 slices: NRMSE {error:.4%}")
    assert pixels.shape == scan.truth.shape
    assert error <= 0.01
    assert all(d.SeriesDescription == "Cartesian FFT RSS" for d in datasets)
    assert list(datasets[0].ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert len({d.SeriesInstanceUID for d in datasets}) == 1


def test_the_adaptive_pocs_mode_with_coil_compression_runs(tmp_path: Path) -> None:
    scan, raw = scan_file(tmp_path, partial_fourier=6 / 8)
    mode = find_mode(BUILTIN_MODES_DIR, "yc_cartesian_adaptive")

    result = run_mode(mode, job_for(raw, tmp_path / "w", param="3"))

    pixels, datasets = read_images(result.files)
    error = nrmse(pixels, scan.displayed_truth)
    print(
        f"yc_cartesian_adaptive.mode, 6/8 partial Fourier, 4 -> 3 virtual coils: NRMSE {error:.4%}"
    )
    assert pixels.shape == scan.truth.shape
    assert error < 0.2
    assert datasets[0].SeriesDescription == "Cartesian adaptive POCS"


def test_a_truncated_file_fails_as_bad_input_with_the_readers_reason(tmp_path: Path) -> None:
    _, raw = scan_file(tmp_path)
    data = raw.read_bytes()
    raw.write_bytes(data[: len(data) // 2])

    with pytest.raises(BadInput) as info:
        run_mode(find_mode(BUILTIN_MODES_DIR, "yc_cartesian"), job_for(raw, tmp_path / "w"))

    assert info.value.exit_code == EXIT_BAD_INPUT
    print(f"truncated VE file: {info.value}")
    assert str(info.value).startswith("scan.dat at byte ")


def test_the_program_exits_65_and_records_the_reason(tmp_path: Path) -> None:
    raw = tmp_path / "scan.dat"
    raw.write_bytes(b"\x00" * 100)
    error_file = tmp_path / "error.json"

    code = main([str(raw), str(tmp_path / "out")], {"YC_ERROR_FILE": str(error_file)})

    assert code == EXIT_BAD_INPUT
    reported = json.loads(error_file.read_text())
    assert reported["exit_code"] == EXIT_BAD_INPUT
    assert reported["reason"].startswith("scan.dat at byte ")


def test_bad_arguments_are_bad_input_naming_the_mode_args(tmp_path: Path) -> None:
    error_file = tmp_path / "error.json"

    code = main(["only-one"], {"YC_ERROR_FILE": str(error_file)})

    assert code == EXIT_BAD_INPUT
    assert "fix the mode's Args" in json.loads(error_file.read_text())["reason"]


@pytest.mark.parametrize(
    ("value", "coils"), [("N", None), ("0", None), ("", None), ("12", 12), ("8.0", 8)]
)
def test_the_mode_parameter_chooses_the_virtual_coils(value: str, coils: int | None) -> None:
    assert coil_compression(value) == coils


@pytest.mark.parametrize("value", ["twelve", "-2", "2.5"])
def test_a_parameter_that_is_no_coil_count_is_refused(value: str) -> None:
    with pytest.raises(BadInput, match="virtual coils"):
        coil_compression(value)


def test_raw_data_errors_are_bad_input() -> None:
    assert issubclass(RawDataError, BadInput)
