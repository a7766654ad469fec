"""``SetDCMTags``: the example BART mode run by the worker's runner, with Debian's ``bart``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest

from recon_image.errors import BadInput
from recon_image.modes.modefile import load_mode
from recon_image.modes.runner import ModeJob, run_mode
from recon_image.programs.cartesian import reconstruct_file
from recon_image.programs.setdcmtags import (
    arrange,
    group_series,
    main,
    place_of_counters,
    to_protocol_matrix,
)
from scripts.phantoms.numeric import nrmse
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_ve import write_ve
from tests.helpers.dciodvfy import dciodvfy_errors
from tests.helpers.unavailable import require_command

ROOT = Path(__file__).resolve().parents[3]
REAL_TWIX = ROOT / "tests" / "data" / "siemens-e11-gre.dat"
EXAMPLE_MODE = ROOT / "tests" / "recon_image" / "modes" / "bart_example.mode"
MODULES = ROOT / "recon_image" / "modules"
TASK = "4b1d7e3a-0c55-4f3e-9a61-1b2c3d4e5f60"


def run_example(scan: Path, work: Path) -> list[Path]:
    """The example mode, unchanged, through the worker's runner; Debian's bart on PATH."""
    job = ModeJob(
        task_id=TASK,
        work_dir=work,
        scan_file=scan,
        task_file=scan.with_suffix(".task"),
        param="",
        modules_dir=MODULES,
        user_modules_dir=work / "user-modules",
        modes_dir=EXAMPLE_MODE.parent,
        env={
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.defpath]),
            "YC_TASK_UUID": TASK,
        },
    )
    return list(run_mode(load_mode(EXAMPLE_MODE), job).files)


@pytest.fixture
def bart() -> str:
    return require_command("bart", "bart")


@pytest.mark.parametrize("source", ["real E11 file", "4-slice phantom"])
def test_the_example_bart_mode_writes_dicom_that_passes_dciodvfy_and_matches_our_recon(
    bart: str, tmp_path: Path, source: str
) -> None:
    scan = tmp_path / "input" / f"{TASK}.dat"
    scan.parent.mkdir()
    if source == "real E11 file":
        shutil.copy(REAL_TWIX, scan)
    else:
        # the marker lies in the second slice only: a slice out of place or a flip shows
        write_ve(simulate(ScanSettings(matrix=(64, 64, 4), coils=4, seed=5, marker=True)), scan)
    files = run_example(scan, tmp_path / "work")

    ours = reconstruct_file(scan, tmp_path / "ours", task_id=TASK)
    assert [f.name for f in files] == [f.name for f in ours]
    theirs = [pydicom.dcmread(f) for f in files]
    reference = [pydicom.dcmread(f) for f in ours]
    for path, bart_ds, our_ds in zip(files, theirs, reference, strict=True):
        assert dciodvfy_errors(path) == [], path.name
        # the readout oversampling is gone and the geometry is the protocol's, as in our recon
        assert bart_ds.pixel_array.shape == our_ds.pixel_array.shape
        for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
            assert bart_ds[keyword].value == our_ds[keyword].value
        assert bart_ds.SeriesDescription == "BART FFT (root-sum-of-squares)"
        assert bart_ds.PatientComments == our_ds.PatientComments
    error = nrmse(
        np.stack([ds.pixel_array for ds in theirs]), np.stack([ds.pixel_array for ds in reference])
    )
    print(f"example BART mode on the {source}: NRMSE {error:.4%} against yc-cartesian")
    assert error < 0.01


def test_series_and_images_are_taken_from_yarras_file_names_and_barts() -> None:
    names = ["series2.slice1.dcm", "series1.slice10.dcm", "series1.slice2.dcm", "img-0001.dcm"]
    assert {k: [p.name for p in v] for k, v in group_series([Path(n) for n in names]).items()} == {
        1: ["img-0001.dcm", "series1.slice2.dcm", "series1.slice10.dcm"],
        2: ["series2.slice1.dcm"],
    }


def test_barts_slices_loop_outermost_in_2d_and_named_slices_run_volume_after_volume() -> None:
    # file i holds the value i; 3 slices (or partitions) x 2 volumes
    stack = np.arange(6).reshape(6, 1, 1)
    in_place = np.arange(3)
    assert arrange(stack, in_place, 2, by_name=False)[..., 0, 0].tolist() == [[0, 2, 4], [1, 3, 5]]
    assert arrange(stack, in_place, 3, by_name=False)[..., 0, 0].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert arrange(stack, in_place, 2, by_name=True)[..., 0, 0].tolist() == [[0, 1, 2], [3, 4, 5]]
    # slice counter 1 lies first in space, counter 0 second
    swapped = np.array([1, 0, 2])
    assert arrange(stack, swapped, 2, by_name=False)[..., 0, 0].tolist() == [[2, 0, 4], [3, 1, 5]]


def test_slice_counters_are_placed_in_space_and_gaps_refused() -> None:
    counters, z = np.array([0, 0, 1, 2, 1]), np.array([1, 1, 2, 0, 2])
    assert place_of_counters(counters, z).tolist() == [1, 2, 0]
    with pytest.raises(BadInput, match=r"slice counters \[0, 2\] do not number its 2 slices"):
        place_of_counters(np.array([0, 2]), np.array([0, 1]))


def test_the_oversampled_readout_is_cropped_to_its_centre_and_other_sizes_refused() -> None:
    image = np.arange(8 * 3).reshape(8, 3)  # readout 8 (2x oversampled 4), 3 lines
    assert to_protocol_matrix(image, (4, 3), 2.0, "a.dcm").tolist() == image[2:6].T.tolist()
    assert to_protocol_matrix(image[2:6], (4, 3), 2.0, "a.dcm").shape == (3, 4)
    with pytest.raises(BadInput, match=r"a.dcm is 8 x 3 pixels .* protocol has 4 x 4"):
        to_protocol_matrix(image, (4, 4), 2.0, "a.dcm")


def test_an_empty_input_folder_is_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    error_file = tmp_path / "error.json"
    code = main(
        [str(tmp_path / "in"), str(tmp_path / "out"), str(REAL_TWIX)],
        {"YC_ERROR_FILE": str(error_file)},
    )
    assert code == 65
    assert "found no DICOM file in in" in error_file.read_text()
    assert not (tmp_path / "out").exists()


def test_images_that_do_not_fit_the_raw_files_protocol_are_refused(
    bart: str, tmp_path: Path
) -> None:
    (tmp_path / "in").mkdir()
    subprocess.run([bart, "ones", "2", "64", "64", str(tmp_path / "ones")], check=True)
    subprocess.run([bart, "toimg", str(tmp_path / "ones"), str(tmp_path / "in" / "x.dcm")])
    error_file = tmp_path / "error.json"
    code = main(
        [str(tmp_path / "in"), str(tmp_path / "out"), str(REAL_TWIX)],
        {"YC_ERROR_FILE": str(error_file)},
    )
    assert code == 65
    assert "x.dcm is 64 x 64 pixels" in error_file.read_text()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
