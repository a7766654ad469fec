"""What must not survive de-identification, in every spelling a reader might search for."""

from __future__ import annotations

from datetime import date

from scripts.phantoms.header import Patient, Site, identity_strings

PERSON_NAMES = ("name", "referring_physician")


def date_forms(yyyymmdd: str) -> set[str]:
    day = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    return {
        yyyymmdd,
        day.strftime("%Y-%m-%d"),
        day.strftime("%d.%m.%Y"),
        day.strftime("%d/%m/%Y"),
    }


def person_forms(dicom_name: str) -> set[str]:
    last, first = dicom_name.split("^", 1)
    return {dicom_name, f"{last}^{first}", f"{first} {last}"}


def forbidden(patient: Patient, site: Site) -> set[bytes]:
    """Every identity value as written, upper-cased, as names and dates are usually written."""
    forms: set[str] = set(identity_strings(patient, site))
    for name in (patient.name, patient.referring_physician, site.performing_physician):
        forms |= person_forms(name)
    forms |= date_forms(patient.birth_date)
    forms |= date_forms(site.scan_time.strftime("%Y%m%d"))
    forms.add(site.serial_number)
    forms |= {f.upper() for f in forms}
    return {f.encode("latin-1") for f in forms}


def found(data: bytes, patient: Patient, site: Site) -> list[str]:
    """The forbidden forms (of a fictitious patient) present in ``data``."""
    return [f.decode("latin-1") for f in sorted(forbidden(patient, site)) if f in data]


def apply_patches(data: bytes, patches: tuple[tuple[int, bytes], ...]) -> bytes:
    out = bytearray(data)
    for offset, replacement in patches:
        out[offset : offset + len(replacement)] = replacement
    assert len(out) == len(data)
    return bytes(out)
