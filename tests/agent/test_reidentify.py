"""Re-identification: the worker's placeholder images get the patient back, in copies."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pydicom
import pytest

from agent.errors import BadTask
from agent.reidentify import reidentify_series
from tests.agent.delivery.series import TASK_ID, patient, worker_series

OTHER_TASK = "0e7a3f95-61c2-4b8d-a0f4-9d2b5c8e1a37"


def _digests(paths: list[Path]) -> dict[Path, str]:
    return {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}


def _no_patient_value(message: str) -> None:
    identity = patient()
    for value in (
        identity.name,
        "Brennan",
        "Elowen",
        identity.patient_id,
        identity.birth_date,
        identity.accession,
    ):
        assert value not in message


def test_copies_carry_the_patient_and_exam_and_the_inputs_stay_as_they_were(
    tmp_path: Path,
) -> None:
    files = worker_series(tmp_path / "cloud")
    before = _digests(files)
    out = reidentify_series(files, patient(), tmp_path / "home")

    assert [p.name for p in out] == [p.name for p in files]
    assert all(p.parent == tmp_path / "home" for p in out)
    assert _digests(files) == before
    for original, copy in zip(files, out, strict=True):
        ds, source = pydicom.dcmread(copy), pydicom.dcmread(original)
        assert str(ds.PatientName) == "Brennan^Elowen^Maire"
        assert ds.PatientID == "MRN-7731-0452"
        assert ds.PatientBirthDate == "19580923"
        assert ds.AccessionNumber == "ACC88412907"
        assert ds.PatientComments == TASK_ID
        for prefix in ("Study", "Series", "Acquisition", "Content"):
            assert ds[f"{prefix}Date"].value == "20240311"
            assert ds[f"{prefix}Time"].value == "142507"
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "PixelData"):
            assert ds[keyword].value == source[keyword].value
        assert ds.file_meta.MediaStorageSOPInstanceUID == source.SOPInstanceUID


def test_a_name_outside_ascii_is_written_in_utf8_and_reads_back(tmp_path: Path) -> None:
    files = worker_series(tmp_path / "cloud", n_slices=1)
    identity = patient(name="Ó Súilleabháin^Åsa^Zoë")
    (copy,) = reidentify_series(files, identity, tmp_path / "home")
    ds = pydicom.dcmread(copy)
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert str(ds.PatientName) == "Ó Súilleabháin^Åsa^Zoë"
    assert "Súilleabháin".encode() in copy.read_bytes()


def test_unknown_exam_date_and_time_leave_the_dates_empty(tmp_path: Path) -> None:
    files = worker_series(tmp_path / "cloud", n_slices=1)
    (copy,) = reidentify_series(files, patient(exam_date="", exam_time=""), tmp_path / "home")
    ds = pydicom.dcmread(copy)
    assert ds.StudyDate == "" and ds.SeriesTime == "" and ds.ContentDate == ""
    assert ds.PatientID == "MRN-7731-0452"


def test_rewriting_after_an_interruption_gives_the_same_files(tmp_path: Path) -> None:
    files = worker_series(tmp_path / "cloud")
    first = _digests(reidentify_series(files, patient(), tmp_path / "home"))
    second = _digests(reidentify_series(files, patient(), tmp_path / "home"))
    assert first == second
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == sorted(p.name for p in files)


def test_two_series_of_a_task_share_the_study_and_keep_their_own_series(tmp_path: Path) -> None:
    files = worker_series(tmp_path / "cloud", series_number=1) + worker_series(
        tmp_path / "cloud", series_number=2
    )
    out = [pydicom.dcmread(p) for p in reidentify_series(files, patient(), tmp_path / "home")]
    assert len({ds.StudyInstanceUID for ds in out}) == 1
    assert len({ds.SeriesInstanceUID for ds in out}) == 2


def test_a_file_that_is_not_dicom_is_a_bad_task_and_nothing_is_written(tmp_path: Path) -> None:
    files = worker_series(tmp_path / "cloud")
    files[1].write_bytes(b"not a DICOM file, a log the worker left\n" * 20)
    with pytest.raises(BadTask, match=files[1].name):
        reidentify_series(files, patient(), tmp_path / "home")
    assert not (tmp_path / "home").exists()


def test_an_image_of_another_task_never_gets_this_patient(tmp_path: Path) -> None:
    files = worker_series(tmp_path / "cloud", n_slices=2)
    files += worker_series(tmp_path / "other", OTHER_TASK, series_number=2, n_slices=1)
    with pytest.raises(BadTask, match="another task") as raised:
        reidentify_series(files, patient(), tmp_path / "home")
    _no_patient_value(str(raised.value))
    assert not (tmp_path / "home").exists()


def test_images_that_disagree_on_the_study_or_a_series_uid_are_refused(tmp_path: Path) -> None:
    files = worker_series(tmp_path / "cloud")
    ds = pydicom.dcmread(files[2])
    ds.SeriesInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(files[2])
    with pytest.raises(BadTask, match="SeriesInstanceUID"):
        reidentify_series(files, patient(), tmp_path / "home")
    ds.StudyInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(files[2])
    with pytest.raises(BadTask, match="2 studies"):
        reidentify_series(files, patient(), tmp_path / "home")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("accession", "ACC88412907-2024-0311"),
        ("patient_id", "MRN\\7731"),
        ("birth_date", "23.09.1958"),
        ("exam_time", "256100"),
    ],
)
def test_an_identity_value_dicom_cannot_hold_names_the_field_not_the_value(
    tmp_path: Path, field: str, value: str
) -> None:
    files = worker_series(tmp_path / "cloud", n_slices=1)
    with pytest.raises(BadTask, match=field) as raised:
        reidentify_series(files, patient(**{field: value}), tmp_path / "home")
    assert value not in str(raised.value)
    _no_patient_value(str(raised.value))
