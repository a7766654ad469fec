"""Re-identification: the patient's identity and the exam's dates written back into the DICOM.

The cloud's images carry placeholders: the task's UUID as PatientID and in
PatientComments, no name, no birth date, no dates. At home the agent writes
the identity from the ``.phi`` vault into a copy of each file — PatientName,
PatientID, PatientBirthDate, AccessionNumber, the UUID in PatientComments
(0010,4000) as Yarra does — and the exam's date and time into the study,
series, acquisition and content dates and times when the header had them.

Study and series UIDs are kept as the worker derived them from the task id,
so a series delivered twice is stored once. Before writing anything every file
is checked: it must be DICOM, carry this task's UUID (images of another task
must never receive this patient's name), and share one study, with one series
UID per series number.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pydicom
from pydicom.dataset import FileDataset
from pydicom.errors import InvalidDicomError

from agent.errors import BadTask
from agent.identity import PatientIdentity
from agent.private import private_folder, protect_file
from contracts.atomic_write import replace_file

UTF8 = "ISO_IR 192"
_DATE = re.compile(r"^\d{8}$")
_TIME = re.compile(r"^\d{6}(\.\d{1,6})?$")
# DICOM's limits for the attributes written: (field of the .phi, maximum length).
_LIMITS = {"name": 64, "patient_id": 64, "accession": 16, "task_uuid": 64}
_DATED = ("Study", "Series", "Acquisition", "Content")


def reidentify_series(
    files: Sequence[Path], identity: PatientIdentity, out_dir: Path, *, cloud_uuid: str = ""
) -> list[Path]:
    """Write re-identified copies of ``files`` into ``out_dir``, leaving the inputs untouched.

    Parameters
    ----------
    files
        The task's DICOM files as the cloud returned them.
    identity
        The patient and exam from the ``.phi`` vault.
    out_dir
        Created if missing; each copy keeps its input's name and appears
        complete (written beside it, then renamed), so rewriting after an
        interruption is safe.
    cloud_uuid
        The UUID the cloud ran the task under, which its images carry; the task's own
        (``identity.task_uuid``) unless the cloud refused that one. The copies carry the
        task's own.

    Returns
    -------
    list of Path
        The re-identified files, in the order of ``files``.

    Raises
    ------
    BadTask
        When a file is not DICOM, belongs to another task, the files do not
        share one study or a series' files disagree on its UID, or an identity
        value cannot be written into DICOM (the message names the field, never
        its value).
    """
    _check_identity(identity)
    out_dir = out_dir.resolve()
    names = [path.name for path in files]
    if len(set(names)) != len(names):
        raise BadTask("the task's images have duplicate file names; download them again")
    if any(path.resolve().parent == out_dir for path in files):
        raise ValueError("out_dir must differ from the folder of the input files")
    datasets = [_read(path, cloud_uuid or identity.task_uuid) for path in files]
    _check_uids(datasets, names)
    private_folder(out_dir)
    written = []
    for path, ds in zip(files, datasets, strict=True):
        _apply(ds, identity)
        target = out_dir / path.name
        partial = out_dir / f".{path.name}.partial"
        ds.save_as(partial, enforce_file_format=True)
        protect_file(partial)
        _fsync_file(partial)
        replace_file(partial, target)
        written.append(target)
    return written


def _check_identity(identity: PatientIdentity) -> None:
    for field, limit in _LIMITS.items():
        value = getattr(identity, field)
        if len(value) > limit or "\\" in value or not value.isprintable():
            raise BadTask(
                f"the .phi's {field} cannot be written into DICOM (at most {limit} printable"
                " characters, no backslash); correct it in the .phi file"
            )
    if not identity.task_uuid:
        raise BadTask("the .phi names no task UUID; the task cannot be matched to its images")
    if identity.name.count("^") > 4:
        raise BadTask("the .phi's name has more than five components; correct it")
    for field in ("birth_date", "exam_date"):
        value = getattr(identity, field)
        if value and not _valid_date(value):
            raise BadTask(f"the .phi's {field} is not a date YYYYMMDD; correct it")
    if identity.exam_time and not _valid_time(identity.exam_time):
        raise BadTask("the exam_time kept from the raw header is not HHMMSS; it cannot be written")


def _valid_date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        datetime.strptime(value, "%Y%m%d")
    except ValueError:
        return False
    return True


def _valid_time(value: str) -> bool:
    if not _TIME.match(value):
        return False
    hours, minutes, seconds = int(value[:2]), int(value[2:4]), int(value[4:6])
    return hours < 24 and minutes < 60 and seconds < 60


def _read(path: Path, task_uuid: str) -> FileDataset:
    try:
        ds = pydicom.dcmread(path)
        ds.decode()
        sop_class = ds.get("SOPClassUID")
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError) as error:
        raise BadTask(
            f"{path.name} is not a readable DICOM file ({type(error).__name__}); the task's"
            " result is damaged: download it again"
        ) from error
    if not sop_class:
        raise BadTask(f"{path.name} has no SOP Class UID; it is not a DICOM image")
    marks = {str(ds.get("PatientComments", "")).strip(), str(ds.get("PatientID", "")).strip()}
    if task_uuid not in marks:
        raise BadTask(
            f"{path.name} does not carry this task's UUID in PatientComments or PatientID:"
            " it belongs to another task and is not given this patient's identity"
        )
    return ds


def _check_uids(datasets: Sequence[FileDataset], names: Sequence[str]) -> None:
    """One study for the task; per series number one series UID, and per UID one number."""
    studies = {str(ds.get("StudyInstanceUID", "")) for ds in datasets}
    if "" in studies:
        raise BadTask("an image of the task has no StudyInstanceUID; the result is damaged")
    if len(studies) > 1:
        raise BadTask(f"the task's images name {len(studies)} studies; they must share one")
    by_number: dict[str, str] = {}
    by_uid: dict[str, str] = {}
    for ds, name in zip(datasets, names, strict=True):
        uid = str(ds.get("SeriesInstanceUID", ""))
        number = str(ds.get("SeriesNumber", ""))
        if not uid:
            raise BadTask(f"{name} has no SeriesInstanceUID; the result is damaged")
        if by_number.setdefault(number, uid) != uid or by_uid.setdefault(uid, number) != number:
            raise BadTask(
                f"{name} disagrees with the other images of series {number or '(unnumbered)'}"
                " on its SeriesInstanceUID; the result is damaged"
            )


def _apply(ds: FileDataset, identity: PatientIdentity) -> None:
    ds.SpecificCharacterSet = UTF8
    ds.PatientName = identity.name
    ds.PatientID = identity.patient_id
    ds.PatientBirthDate = identity.birth_date
    ds.AccessionNumber = identity.accession
    ds.PatientComments = identity.task_uuid
    if identity.exam_date:
        for prefix in _DATED:
            setattr(ds, f"{prefix}Date", identity.exam_date)
    if identity.exam_time:
        for prefix in _DATED:
            setattr(ds, f"{prefix}Time", identity.exam_time)


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())
