"""The DICOM series the worker writes: valid MR images, right geometry, no patient data, stored by
a real PACS."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage
from pynetdicom import AE

from recon_image.dicom import UID_ROOT, nominal_field, write_series
from recon_image.errors import BadInput, ReconError
from recon_image.raw.kspace import Protocol, SliceGeometry, VolumeLabel
from tests.helpers.unavailable import require_file

TASK_ID = "3f2c9a71-5d4e-4b8a-9c1f-7e6d5b4a3c21"
OTHER_TASK_ID = "b41e0c6d-2a9f-4e37-8d15-60c7a2f9e8b3"
ROWS, COLS = 32, 48
FOV_READ, FOV_PHASE = 192.0, 96.0  # 4 mm columns, 3 mm rows: unequal, so a swap shows
DCIODVFY = Path("/usr/bin/dciodvfy")
UID_PATTERN = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def _unit(vector: tuple[float, float, float]) -> tuple[float, float, float]:
    array = np.asarray(vector, dtype=np.float64)
    x, y, z = array / np.linalg.norm(array)
    return float(x), float(y), float(z)


# A double-oblique orientation: read and phase tilted out of every patient axis.
READ = _unit((0.9, 0.3, -0.2))
_PHASE_RAW = np.cross((0.1, 0.2, 0.95), READ)
PHASE = _unit(tuple(_PHASE_RAW))
NORMAL = _unit(tuple(np.cross(READ, PHASE)))


def protocol_2d(slice_spacing: float = 6.0) -> Protocol:
    """Three oblique 5 mm slices, 6 mm apart, around (10, -20, 30) mm."""
    centre = np.array([10.0, -20.0, 30.0])
    slices = tuple(
        SliceGeometry(
            position_mm=tuple(
                float(v) for v in centre + (i - 1) * slice_spacing * np.array(NORMAL)
            ),
            read_dir=READ,
            phase_dir=PHASE,
            slice_dir=NORMAL,
            thickness_mm=5.0,
        )
        for i in range(3)
    )
    return Protocol(
        sequence_name="*tse2d1_15",
        protocol_name="t2_tse_tra_obl",
        dimension=2,
        matrix=(COLS, ROWS, 1),
        fov_mm=(FOV_READ, FOV_PHASE, 5.0),
        readout_oversampling=2.0,
        partial_fourier=(1.0, 1.0),
        acceleration=(1, 1),
        slices=slices,
        slice_spacing_mm=slice_spacing,
        tr_ms=4000.0,
        te_ms=(98.0,),
        ti_ms=None,
        flip_deg=150.0,
        field_strength_t=2.89362,
        patient_position="HFS",
        software_version="syngo MR E11",
    )


def protocol_3d() -> Protocol:
    """One oblique slab of 8 partitions, 1.5 mm apart, with two echoes and an inversion."""
    slab = SliceGeometry(
        position_mm=(-5.0, 12.5, 40.0),
        read_dir=READ,
        phase_dir=PHASE,
        slice_dir=NORMAL,
        thickness_mm=12.0,
    )
    return Protocol(
        sequence_name="*fl3d1",
        protocol_name="t1_mprage_sag",
        dimension=3,
        matrix=(COLS, ROWS, 8),
        fov_mm=(FOV_READ, FOV_PHASE, 12.0),
        readout_oversampling=2.0,
        partial_fourier=(1.0, 1.0),
        acceleration=(1, 1),
        slices=(slab,),
        slice_spacing_mm=1.5,
        tr_ms=2300.0,
        te_ms=(2.3, 4.6),
        ti_ms=900.0,
        flip_deg=9.0,
        field_strength_t=2.89362,
        patient_position="FFS",
    )


def pixels(volumes: int, nz: int, seed: int = 7) -> np.ndarray:
    """Seeded uint16 images in the 0..4095 range that the pipeline's scaling produces."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4096, size=(volumes, nz, ROWS, COLS), dtype=np.uint16)


def write_2d(out_dir: Path, task_id: str = TASK_ID) -> list[Path]:
    return write_series(
        pixels(1, 3),
        protocol_2d(),
        out_dir,
        task_id=task_id,
        series_description="YarraCloud Cartesian",
        series_number=3,
    )


def write_3d(out_dir: Path, task_id: str = TASK_ID) -> list[Path]:
    return write_series(
        pixels(2, 8),
        protocol_3d(),
        out_dir,
        task_id=task_id,
        series_description="YarraCloud Cartesian 3D",
        volumes=[VolumeLabel(echo=0), VolumeLabel(echo=1)],
    )


def read_all(paths: list[Path]) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(path) for path in paths]


@pytest.mark.parametrize("write", [write_2d, write_3d], ids=["2d", "3d"])
def test_every_image_passes_dciodvfy_without_errors(write, tmp_path: Path) -> None:
    require_file(DCIODVFY, "dicom3tools")
    files = write(tmp_path)
    assert files
    warnings: set[str] = set()
    for path in files:
        check = subprocess.run(
            [str(DCIODVFY), str(path)], capture_output=True, text=True, timeout=60
        )
        lines = (check.stdout + check.stderr).splitlines()
        errors = [line for line in lines if line.startswith("Error")]
        assert errors == [], f"{path.name}: {errors}"
        warnings.update(line for line in lines if line.startswith("Warning"))
    print(f"dciodvfy: {len(files)} files, 0 errors, {len(warnings)} distinct warnings")
    for warning in sorted(warnings):
        print(f"  {warning}")


def test_files_are_mr_images_in_explicit_little_endian_with_the_pixels_given(
    tmp_path: Path,
) -> None:
    given = pixels(1, 3)
    files = write_series(
        given, protocol_2d(), tmp_path, task_id=TASK_ID, series_description="YarraCloud Cartesian"
    )
    assert len(files) == 3
    for z, ds in enumerate(read_all(files)):
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.file_meta.MediaStorageSOPClassUID == MRImageStorage
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.SOPClassUID == MRImageStorage
        assert ds.Modality == "MR"
        assert list(ds.ImageType)[:2] == ["DERIVED", "SECONDARY"]
        assert (ds.Rows, ds.Columns) == (ROWS, COLS)
        assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (16, 12, 11)
        assert ds.PhotometricInterpretation == "MONOCHROME2"
        np.testing.assert_array_equal(ds.pixel_array, given[0, z])


def test_series_carries_protocol_timing_and_names_the_worker(tmp_path: Path) -> None:
    two_d = read_all(write_2d(tmp_path / "2d"))
    three_d = read_all(write_3d(tmp_path / "3d"))
    first = two_d[0]
    assert first.SeriesDescription == "YarraCloud Cartesian"
    assert first.ProtocolName == "t2_tse_tra_obl"
    assert first.SeriesNumber == 3
    assert first.SequenceName == "*tse2d1_15"
    assert first.ScanningSequence == "SE"
    assert first.MRAcquisitionType == "2D"
    assert float(first.RepetitionTime) == 4000.0
    assert float(first.EchoTime) == 98.0
    assert float(first.FlipAngle) == 150.0
    assert float(first.MagneticFieldStrength) == 3.0  # the nominal field of the measured 2.89362
    assert "InversionTime" not in first
    assert first.PatientPosition == "HFS"
    assert first.Manufacturer == "YarraCloud"
    assert first.SoftwareVersions[0].startswith("recon_image ")
    assert first.SoftwareVersions[1] == "syngo MR E11"
    assert [ds.InstanceNumber for ds in two_d] == [1, 2, 3]

    assert [ds.InstanceNumber for ds in three_d] == list(range(1, 17))
    assert [ds.EchoNumbers for ds in three_d] == [1] * 8 + [2] * 8
    assert [float(ds.EchoTime) for ds in three_d] == [2.3] * 8 + [4.6] * 8
    assert float(three_d[0].InversionTime) == 900.0
    assert list(three_d[0].ScanningSequence) == ["GR", "IR"]
    assert three_d[0].MRAcquisitionType == "3D"
    assert three_d[0].PatientPosition == "FFS"


def _position(ds: pydicom.Dataset) -> np.ndarray:
    return np.array([float(v) for v in ds.ImagePositionPatient])


def _centre_pixel(ds: pydicom.Dataset) -> np.ndarray:
    """Where pixel (rows // 2, cols // 2) lies, from the file's own geometry."""
    orientation = np.array([float(v) for v in ds.ImageOrientationPatient])
    row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
    return (
        _position(ds)
        + (ds.Columns // 2) * column_spacing * orientation[:3]
        + (ds.Rows // 2) * row_spacing * orientation[3:]
    )


def test_2d_geometry_follows_the_protocol(tmp_path: Path) -> None:
    protocol = protocol_2d()
    images = read_all(write_2d(tmp_path))
    for ds, geometry in zip(images, protocol.slices, strict=True):
        orientation = np.array([float(v) for v in ds.ImageOrientationPatient])
        row, column = orientation[:3], orientation[3:]
        np.testing.assert_allclose(row, READ, atol=1e-7)
        np.testing.assert_allclose(column, PHASE, atol=1e-7)
        assert np.linalg.norm(row) == pytest.approx(1.0, abs=1e-7)
        assert np.linalg.norm(column) == pytest.approx(1.0, abs=1e-7)
        assert np.dot(row, column) == pytest.approx(0.0, abs=1e-7)
        assert [float(v) for v in ds.PixelSpacing] == [FOV_PHASE / ROWS, FOV_READ / COLS]
        assert float(ds.SliceThickness) == 5.0
        assert float(ds.SpacingBetweenSlices) == 6.0
        np.testing.assert_allclose(_centre_pixel(ds), geometry.position_mm, atol=1e-6)
        assert float(ds.SliceLocation) == pytest.approx(np.dot(_position(ds), NORMAL), abs=1e-6)
    steps = np.diff([_position(ds) for ds in images], axis=0)
    np.testing.assert_allclose(steps, [np.array(NORMAL) * 6.0] * 2, atol=1e-6)
    print(f"2D: slice positions step {np.linalg.norm(steps, axis=1)} mm along the normal")


def test_3d_partitions_step_by_the_spacing_through_the_slab_centre(tmp_path: Path) -> None:
    protocol = protocol_3d()
    images = read_all(write_3d(tmp_path))[:8]
    assert len(images) == 8
    for ds in images:
        orientation = np.array([float(v) for v in ds.ImageOrientationPatient])
        np.testing.assert_allclose(orientation, (*READ, *PHASE), atol=1e-7)
        assert float(ds.SliceThickness) == 1.5
        assert float(ds.SpacingBetweenSlices) == 1.5
    steps = np.diff([_position(ds) for ds in images], axis=0)
    np.testing.assert_allclose(steps, [np.array(NORMAL) * 1.5] * 7, atol=1e-6)
    np.testing.assert_allclose(
        _centre_pixel(images[8 // 2]), protocol.slices[0].position_mm, atol=1e-6
    )
    locations = [float(ds.SliceLocation) for ds in images]
    np.testing.assert_allclose(np.diff(locations), [1.5] * 7, atol=1e-6)


def test_uids_share_one_root_and_repeat_when_a_task_is_written_again(tmp_path: Path) -> None:
    first = read_all(write_3d(tmp_path / "first"))
    retry = read_all(write_3d(tmp_path / "retry"))
    other = read_all(write_3d(tmp_path / "other", task_id=OTHER_TASK_ID))
    assert first and len(first) == len(retry) == len(other)
    keywords = ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID", "SOPInstanceUID")
    for ds in first:
        for keyword in keywords:
            uid = str(ds[keyword].value)
            assert uid.startswith(UID_ROOT), uid
            assert len(uid) <= 64 and UID_PATTERN.match(uid), uid
        assert str(ds.file_meta.ImplementationClassUID).startswith(UID_ROOT)
    assert len({ds.StudyInstanceUID for ds in first}) == 1
    assert len({ds.SeriesInstanceUID for ds in first}) == 1
    assert len({ds.SOPInstanceUID for ds in first}) == len(first)
    for keyword in keywords:
        assert [ds[keyword].value for ds in retry] == [ds[keyword].value for ds in first]
        assert not {ds[keyword].value for ds in other} & {ds[keyword].value for ds in first}
    print(f"UID root {UID_ROOT}; study {first[0].StudyInstanceUID}")


def test_a_second_series_of_the_task_joins_the_study_with_its_own_uids(tmp_path: Path) -> None:
    series_1 = read_all(write_3d(tmp_path / "s1"))
    series_3 = read_all(write_2d(tmp_path / "s3"))
    assert series_1[0].StudyInstanceUID == series_3[0].StudyInstanceUID
    assert series_1[0].SeriesInstanceUID != series_3[0].SeriesInstanceUID
    assert not {ds.SOPInstanceUID for ds in series_1} & {ds.SOPInstanceUID for ds in series_3}


def test_patient_and_date_attributes_hold_only_placeholders(tmp_path: Path) -> None:
    placeholders = {
        "PatientName": f"YC^{TASK_ID[:8]}",
        "PatientID": TASK_ID,
        "PatientComments": TASK_ID,
        "PatientBirthDate": "",
        "PatientSex": "",
    }
    datasets = read_all(write_2d(tmp_path))
    assert datasets
    for ds in datasets:
        patient = {
            element.keyword: str(element.value or "") for element in ds.group_dataset(0x0010)
        }
        assert patient == placeholders
        assert ds.AccessionNumber == ""
        assert ds.ReferringPhysicianName == ""
        dated = [e.keyword for e in ds if e.VR in ("DA", "DT", "TM") and e.value not in ("", None)]
        assert dated == []
        for keyword in ("InstitutionName", "StationName", "DeviceSerialNumber", "OtherPatientIDs"):
            assert keyword not in ds


def test_window_spans_the_tissue_not_a_few_bright_pixels(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    image = rng.integers(200, 1200, size=(1, 3, ROWS, COLS), dtype=np.uint16)
    image[0, :, :4, :] = 0
    image[0, 1, 10, 10:15] = 4095
    files = write_series(
        image, protocol_2d(), tmp_path, task_id=TASK_ID, series_description="window"
    )
    datasets = read_all(files)
    assert len(datasets) == 3
    for ds in datasets:
        low = float(ds.WindowCenter) - float(ds.WindowWidth) / 2
        high = float(ds.WindowCenter) + float(ds.WindowWidth) / 2
        assert low <= 200 and 1150 <= high < 1300, (low, high)
    print(f"window {low:.0f}..{high:.0f} for tissue 200..1200 with pixels at 4095")


def test_pixels_that_do_not_fit_the_protocol_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ReconError, match="uint16"):
        write_series(
            pixels(1, 3).astype(np.float32),
            protocol_2d(),
            tmp_path,
            task_id=TASK_ID,
            series_description="x",
        )
    with pytest.raises(ReconError, match="do not fit a 2D protocol with 3 slice geometries"):
        write_series(pixels(1, 4), protocol_2d(), tmp_path, task_id=TASK_ID, series_description="x")
    with pytest.raises(ReconError, match="1 volume labels for 2 volumes"):
        write_series(
            pixels(2, 3),
            protocol_2d(),
            tmp_path,
            task_id=TASK_ID,
            series_description="x",
            volumes=[VolumeLabel()],
        )
    assert not list(tmp_path.iterdir())


def test_a_header_with_parallel_read_and_phase_directions_is_bad_input(tmp_path: Path) -> None:
    base = protocol_2d()
    broken = SliceGeometry(base.slices[0].position_mm, READ, READ, NORMAL, 5.0)
    protocol = Protocol(**{**base.__dict__, "slices": (broken, *base.slices[1:])})
    with pytest.raises(BadInput, match="slice orientation is unusable") as raised:
        write_series(pixels(1, 3), protocol, tmp_path, task_id=TASK_ID, series_description="x")
    assert raised.value.exit_code == 65


def _c_store(orthanc, files: list[Path]) -> list[int]:
    """Sends ``files`` to Orthanc over one association; returns each C-STORE status."""
    ae = AE(ae_title="YARRACLOUD")
    ae.add_requested_context(MRImageStorage, ExplicitVRLittleEndian)
    association = ae.associate(orthanc.host, orthanc.dicom_port, ae_title=orthanc.aet)
    assert association.is_established, "Orthanc refused the association"
    try:
        accepted = [context.abstract_syntax for context in association.accepted_contexts]
        assert accepted == [MRImageStorage]
        return [int(association.send_c_store(path).Status) for path in files]
    finally:
        association.release()


@pytest.mark.parametrize("write", [write_2d, write_3d], ids=["2d", "3d"])
def test_orthanc_stores_the_series_as_one_study_once(write, orthanc, tmp_path: Path) -> None:
    task_id = f"{write.__name__[-2:]}0c4b2a-1e3d-4f5a-8b6c-7d8e9f0a1b2c"
    files = write(tmp_path, task_id=task_id)
    studies_before = set(orthanc.studies())

    statuses = _c_store(orthanc, files)
    assert statuses == [0x0000] * len(files)
    new_studies = set(orthanc.studies()) - studies_before
    assert len(new_studies) == 1
    study = orthanc.get(f"/studies/{new_studies.pop()}")
    assert len(study["Series"]) == 1
    series = orthanc.series_info(study["Series"][0])
    assert len(series["Instances"]) == len(files)
    assert series["MainDicomTags"]["Modality"] == "MR"
    tags = orthanc.tags(series["Instances"][0])
    assert tags["PatientID"] == task_id
    assert tags["Manufacturer"] == "YarraCloud"

    # A retried job sends the same UIDs again: the PACS still holds one copy of each image.
    assert _c_store(orthanc, files) == [0x0000] * len(files)
    assert set(orthanc.studies()) - studies_before == {study["ID"]}
    assert len(orthanc.series_info(study["Series"][0])["Instances"]) == len(files)
    print(
        f"Orthanc: {len(files)} C-STORE 0x0000, 1 study, 1 series, {len(files)} instances"
        " (unchanged after a resend)"
    )


@pytest.mark.parametrize(
    ("measured", "nominal"),
    [(2.89362, 3.0), (1.494, 1.5), (0.348, 0.35), (0.55, 0.55), (6.98, 7.0), (9.39, 9.4)],
)
def test_the_field_strength_is_the_nominal_one_nearest_the_measured(measured, nominal) -> None:
    assert nominal_field(measured) == nominal


def test_a_sequence_file_path_becomes_one_sequence_name_of_16_characters(tmp_path: Path) -> None:
    protocol = dataclasses.replace(
        protocol_2d(), sequence_name="%CustomerSeq%\\yc_gre_with_a_very_long_name"
    )
    files = write_series(pixels(1, 3), protocol, tmp_path, task_id=TASK_ID, series_description="x")
    ds = pydicom.dcmread(files[0])
    assert ds.data_element("SequenceName").VM == 1
    assert ds.SequenceName == "yc_gre_with_a_ve"
