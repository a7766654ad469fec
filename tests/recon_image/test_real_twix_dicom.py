"""The shipped mode ``yc_cartesian`` on the real Siemens E11 file: DICOM geometry, attributes and
image, each against an independent source (twixtools, dciodvfy, the header itself)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
import twixtools

from agent.deid.twix import deidentify_twix
from recon_image.modes.modefile import find_mode
from recon_image.modes.runner import ModeJob, run_mode
from recon_image.programs.cartesian import reconstruct_file
from recon_image.settings import BUILTIN_MODES_DIR
from tests.helpers.unavailable import require_file
from tests.recon_image.dicom_geometry import angle_deg, orientation, pixel_centres

REAL_FILE = Path(__file__).resolve().parents[1] / "data" / "siemens-e11-gre.dat"
DCIODVFY = Path("/usr/bin/dciodvfy")
TASK_ID = "6c1e8f0a-2b7d-4e59-9a31-5d0c4b8e7f12"


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[pydicom.Dataset]:
    """The worker's DICOM of the real file, as the mode ``yc_cartesian`` writes it."""
    work = tmp_path_factory.mktemp("real")
    task = work / "scan.task"
    task.write_text("[Task]\n")
    job = ModeJob(
        task_id=TASK_ID,
        work_dir=work / "job",
        scan_file=REAL_FILE,
        task_file=task,
        param="0",
        modules_dir=work / "modules",
        user_modules_dir=work / "modules",
        modes_dir=BUILTIN_MODES_DIR,
        env={"PATH": "/usr/bin:/bin"},
        step_timeout_s=300,
    )
    result = run_mode(find_mode(BUILTIN_MODES_DIR, "yc_cartesian"), job)
    return [pydicom.dcmread(path) for path in result.files]


@pytest.fixture(scope="module")
def twix() -> dict:
    return twixtools.read_twix(str(REAL_FILE), verbose=False)[-1]


def test_geometry_is_the_slice_twixtools_geometry_derives(images, twix) -> None:
    (ds,) = images
    geometry = twix["geometry"][0]
    read, phase = geometry.prs_to_pcs()[:, 1], geometry.prs_to_pcs()[:, 0]
    yaps = twix["hdr"]["MeasYaps"]
    slice_ = yaps["sSliceArray"]["asSlice"][0]
    columns, lines = yaps["sKSpace"]["lBaseResolution"], yaps["sKSpace"]["lPhaseEncodingLines"]
    dx, dy = slice_["dReadoutFOV"] / columns, slice_["dPhaseFOV"] / lines

    row, column = orientation(ds)

    # columns along twixtools' read direction; rows stored in reverse order of its phase
    # direction, so that row x column is the header's sNormal, as in the scanner's images
    np.testing.assert_allclose(row, read, atol=1e-6)
    np.testing.assert_allclose(column, -phase, atol=1e-6)
    off = angle_deg(np.cross(row, column), np.asarray(geometry.normal))
    assert off < 0.5
    assert (ds.Rows, ds.Columns) == (lines, columns)
    assert [float(v) for v in ds.PixelSpacing] == [dy, dx] == [1.25, 1.25]
    assert float(ds.SliceThickness) == slice_["dThickness"] == 4.0
    # the first transmitted pixel: column 0 of the image's last phase-encoding row, its centre
    # placed from the slice centre sPosition by the field of view and the matrix
    centre = np.asarray(geometry.offset)
    first = centre + (0 - columns // 2) * dx * read + (lines - 1 - lines // 2) * dy * phase
    np.testing.assert_allclose([float(v) for v in ds.ImagePositionPatient], first, atol=1e-4)
    print(
        f"\nreal E11 file: IOP {[round(float(v), 6) for v in ds.ImageOrientationPatient]},"
        f" IPP {[round(float(v), 3) for v in ds.ImagePositionPatient]}; normal {off:.4f} deg"
        " from sNormal"
    )


def test_dicom_passes_dciodvfy_and_carries_the_headers_values(images, twix) -> None:
    require_file(DCIODVFY, "dicom3tools")
    (ds,) = images
    check = subprocess.run(
        [str(DCIODVFY), str(ds.filename)], capture_output=True, text=True, timeout=60
    )
    errors = [line for line in (check.stdout + check.stderr).splitlines() if "Error" in line]
    assert errors == []

    dicom, yaps = twix["hdr"]["Dicom"], twix["hdr"]["MeasYaps"]
    assert ds.ScanningSequence == dicom["tScanningSequence"] == "GR"
    assert ds.SequenceVariant == dicom["tSequenceVariant"] == "SP"
    assert ds.SequenceName == "gre"  # the sequence file %CustomerSeq%\gre
    assert ds.data_element("SequenceName").VM == 1
    assert dicom["flMagneticFieldStrength"] == pytest.approx(2.89362)
    assert float(ds.MagneticFieldStrength) == 3.0
    assert float(ds.EchoTime) == yaps["alTE"][0] / 1000.0 == 3.0
    assert float(ds.RepetitionTime) == yaps["alTR"][0] / 1000.0 == 10.0
    assert float(ds.FlipAngle) == yaps["adFlipAngleDegree"][0] == 15.0
    assert "InversionTime" not in ds  # alTI[0] is set, but a plain gradient echo inverts nothing
    assert ds.PatientSex == "O"  # lPatientSex 3
    assert ds.MRAcquisitionType == "2D"


def independent_image(twix: dict) -> np.ndarray:
    """twixtools and numpy alone: oversampling removed, centred 2D inverse FFT, RSS.

    Returns (lines, columns), index (n, m) at sPosition + (m - N/2)·dx·read +
    (n - M/2)·dy·phase in twixtools.geometry's axes.
    """
    mapped = twixtools.map_twix(twix)
    image = mapped["image"]
    image.flags["remove_os"] = True
    kspace = np.asarray(image[:]).squeeze()  # (lines, channels, columns)
    axes = (0, 2)
    coils = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(kspace, axes=axes), axes=axes), axes=axes)
    return np.sqrt(np.sum(np.abs(coils) ** 2, axis=1))


def test_image_matches_an_independent_reconstruction_in_the_geometrys_orientation(
    images, twix
) -> None:
    (ds,) = images
    geometry = twix["geometry"][0]
    read, phase = geometry.prs_to_pcs()[:, 1], geometry.prs_to_pcs()[:, 0]
    theirs = independent_image(twix)
    lines, columns = theirs.shape
    dx, dy = geometry.voxelsize[0], geometry.voxelsize[1]

    # where each DICOM pixel lies, and which pixel of the independent image lies there
    offsets = pixel_centres(ds) - np.asarray(geometry.offset)
    m = offsets @ read / dx + columns // 2
    n = offsets @ phase / dy + lines // 2
    np.testing.assert_allclose(m, np.round(m), atol=1e-3)
    np.testing.assert_allclose(n, np.round(n), atol=1e-3)
    m, n = np.round(m).astype(int), np.round(n).astype(int)
    assert m.min() == 0 and m.max() == columns - 1
    assert n.min() == 0 and n.max() == lines - 1
    expected = theirs[n, m]

    ours = ds.pixel_array.astype(np.float64)
    scale = float(np.sum(ours * expected) / np.sum(ours * ours))
    error = float(np.linalg.norm(scale * ours - expected) / np.linalg.norm(expected))
    flipped = float(
        np.linalg.norm(scale * ours[::-1] - expected) / np.linalg.norm(expected)
    )  # what a wrong orientation would score
    print(f"\nreal E11 file, yc_cartesian against twixtools + numpy: NRMSE {error:.4%}")
    print(f"  (the same image flipped top to bottom would score {flipped:.2%})")
    assert error <= 0.01


def test_the_de_identified_file_keeps_what_the_dicom_takes_from_the_header(tmp_path, images):
    """The real file as the agent uploads it, its de-identification patches applied."""
    uploaded = bytearray(REAL_FILE.read_bytes())
    patches = deidentify_twix(REAL_FILE).patches
    for offset, replacement in patches:
        uploaded[offset : offset + len(replacement)] = replacement
    raw = tmp_path / "uploaded.dat"
    raw.write_bytes(bytes(uploaded))

    (ours,) = [pydicom.dcmread(p) for p in reconstruct_file(raw, tmp_path / "out", task_id=TASK_ID)]

    (original,) = images
    assert patches
    for keyword in (
        "PatientSex",
        "ScanningSequence",
        "SequenceVariant",
        "SequenceName",
        "MagneticFieldStrength",
        "EchoTime",
        "RepetitionTime",
        "FlipAngle",
        "ImagePositionPatient",
        "ImageOrientationPatient",
        "PixelSpacing",
        "SliceThickness",
    ):
        assert ours.get(keyword) == original.get(keyword), keyword
    assert ours.PatientSex == "O"
    assert np.array_equal(ours.pixel_array, original.pixel_array)
