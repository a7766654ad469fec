"""The patient's identity as the site keeps it: what re-identification writes back into DICOM."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PatientIdentity:
    """Identity of one task's patient and exam, from the ``.phi`` vault; never leaves the site.

    Attributes
    ----------
    name
        DICOM person name, ``LAST^FIRST``.
    patient_id
        The MRN (PatientID).
    birth_date
        ``YYYYMMDD`` or empty.
    accession
        AccessionNumber or empty.
    task_uuid
        The task's UUID, written into PatientComments (0010,4000) as Yarra does.
    exam_date, exam_time
        ``YYYYMMDD`` and ``HHMMSS`` of the exam, kept at home; empty when unknown.
    """

    name: str
    patient_id: str
    birth_date: str
    accession: str
    task_uuid: str
    exam_date: str = ""
    exam_time: str = ""
