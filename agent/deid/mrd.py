"""De-identify an ISMRMRD/MRD file (HDF5 with an XML header) into a de-identified copy.

The XML header loses every element that identifies the patient, the study or
the site (name, ID, birth date, study and series dates, times, UIDs and IDs,
physicians, institution, station, device serial number); weight, height and
sex stay, as they are no identifiers and the reconstruction and the DICOM
need them. User parameters are judged by their names like TWIX fields. The
acquisitions and every other dataset are copied unchanged. The copy is then
read back whole and refused if any removed value survives in its bytes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import h5py

from agent.deid.fields import Kind, classify, sweep_pattern
from agent.deid.result import Deidentified
from agent.errors import DeidRefused
from contracts.atomic_write import replace_file

NAMESPACE = "http://www.ismrm.org/ISMRMRD"
KNOWN_HEADER_VERSIONS = ("1", "2")
REMOVED = frozenset(
    (
        "patientName",
        "patientID",
        "patientBirthdate",
        "studyDate",
        "studyTime",
        "studyID",
        "accessionNumber",
        "referringPhysicianName",
        "studyDescription",
        "studyInstanceUID",
        "measurementID",
        "seriesDate",
        "seriesTime",
        "seriesInstanceUIDRoot",
        "frameOfReferenceUID",
        "referencedImageSequence",
        "institutionName",
        "stationName",
        "deviceID",
        "deviceSerialNumber",
    )
)
"""XML elements removed with their content."""
KEPT = frozenset(
    (
        "studyInformation",
        "patientWeight_kg",
        "patientHeight_m",
        "patientGender",
        "patientPosition",
        "protocolName",
        "sequenceName",
        "name",
    )
)
"""XML elements kept although their names look like identity (containers: children are judged)."""
_USER_PARAMETERS = ("userParameterLong", "userParameterDouble", "userParameterString")
CHUNK = 16 * 1024 * 1024


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ET.Element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def _values(element: ET.Element) -> list[str]:
    return [t.strip() for t in element.itertext() if t.strip()]


def _exam(root: ET.Element) -> tuple[str, str]:
    """``(YYYYMMDD, HHMMSS)`` of the study (or series) in the header, '' where absent."""
    for section, day, time in (
        ("studyInformation", "studyDate", "studyTime"),
        ("measurementInformation", "seriesDate", "seriesTime"),
    ):
        for element in root:
            if _local(element.tag) == section:
                found_day = _child_text(element, day).replace("-", "")
                found_time = _child_text(element, time).replace(":", "").split(".")[0]
                if found_day:
                    return found_day, found_time[:6]
    return "", ""


def _clean(parent: ET.Element, replaced: dict[str, str]) -> None:
    """Remove identity elements under ``parent`` (recursively), recording their values."""
    for element in list(parent):
        tag = _local(element.tag)
        if tag in _USER_PARAMETERS:
            name = _child_text(element, "name")
            if classify(name) is not Kind.TECHNICAL:
                replaced[f"userParameter.{name}"] = _child_text(element, "value")
                parent.remove(element)
            continue
        if tag in REMOVED:
            replaced.setdefault(tag, " ".join(_values(element)))
            parent.remove(element)
            continue
        if tag not in KEPT and classify(tag) is not Kind.TECHNICAL:
            raise DeidRefused(
                f"the MRD header element {tag!r} may carry identity and is not known to "
                "de-identification; nothing was uploaded. Report the element name to "
                "YarraCloud support"
            )
        _clean(element, replaced)


def _header(xml: str) -> tuple[str, dict[str, str], str, tuple[str, str]]:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise DeidRefused(
            f"the MRD file's XML header does not parse ({exc.__class__.__name__} at "
            f"{exc.position}); nothing was uploaded"
        ) from None
    version = _child_text(root, "version") or "1"
    if version not in KNOWN_HEADER_VERSIONS:
        raise DeidRefused(
            f"MRD header version {version[:16]!r} is not known to de-identify safely (known: "
            f"{', '.join(KNOWN_HEADER_VERSIONS)}); report it to YarraCloud support"
        )
    exam = _exam(root)
    replaced: dict[str, str] = {}
    _clean(root, replaced)
    try:
        text = ET.tostring(root, encoding="unicode", default_namespace=NAMESPACE)
    except ValueError:
        text = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + text, replaced, version, exam


def _copy(source: h5py.File, target: h5py.File, xml: str) -> None:
    for key, value in source.attrs.items():
        target.attrs[key] = value
    for name, item in source.items():
        if not isinstance(item, h5py.Group):
            source.copy(item, target, name=name)
            continue
        group = target.create_group(name)
        for key, value in item.attrs.items():
            group.attrs[key] = value
        for member in item:
            if member == "xml":
                group.create_dataset("xml", data=[xml], dtype=h5py.string_dtype("utf-8"))
            else:
                item.copy(item[member], group, name=member)


def _leaks(path: Path, replaced: dict[str, str]) -> bool:
    """Whether any spelling of a removed value occurs anywhere in the file's bytes."""
    pattern = sweep_pattern(replaced.values())
    if pattern is None:
        return False
    overlap = 256
    with path.open("rb") as file:
        tail = ""
        while chunk := file.read(CHUNK):
            text = tail + chunk.decode("latin-1")
            if pattern.search(text):
                return True
            tail = text[-overlap:]
    return False


def _xml_of(source: h5py.File) -> tuple[str, str]:
    for name, item in source.items():
        if isinstance(item, h5py.Group) and "xml" in item:
            raw = item["xml"][()]
            value = raw[0] if getattr(raw, "shape", ()) else raw
            return name, value.decode("utf-8") if isinstance(value, bytes) else str(value)
    raise DeidRefused(
        "the file is HDF5 but holds no MRD XML header (a group with an 'xml' dataset); "
        "nothing was uploaded"
    )


def deidentify_mrd(path: Path, out: Path) -> Deidentified:
    """Write a de-identified copy of the MRD file ``path`` to ``out`` (replaced atomically).

    Returns
    -------
    Deidentified
        With no patches (the copy is what is uploaded), the removed values for
        the vault, ``ISMRMRD <version>`` as the software version, and the study's
        date and time.

    Raises
    ------
    DeidRefused
        For a file that is not MRD, an unknown identity-like element or header
        version, or a copy in which a removed value still appears.
    """
    path, out = Path(path), Path(out)
    if not h5py.is_hdf5(path):
        raise DeidRefused("the raw file is not HDF5 (MRD); nothing was uploaded")
    partial = out.with_name(out.name + ".partial")
    try:
        with h5py.File(path, "r") as source:
            _, xml = _xml_of(source)
            clean, replaced, version, (exam_date, exam_time) = _header(xml)
            with h5py.File(partial, "w") as target:
                _copy(source, target, clean)
        if _leaks(partial, replaced):
            raise DeidRefused(
                "a removed identity value still appears in the de-identified MRD copy; nothing "
                "was uploaded. Report the file's origin to YarraCloud support"
            )
        replace_file(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return Deidentified(
        patches=(),
        replaced=replaced,
        software_version=f"ISMRMRD {version}",
        exam_date=exam_date,
        exam_time=exam_time,
    )
