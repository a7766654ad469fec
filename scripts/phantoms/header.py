"""A realistic Siemens measurement header for simulated scans, with a fictitious patient and site.

The buffers (Config, Dicom, Meas, MeasYaps, Phoenix, Spice) follow the
layout of an E11/XA scanner's: XProtocol in its single-line form
(``<ParamString."x">  { "v"  }``) in Config and Dicom, the multi-line form
in Meas, ASCCONV in MeasYaps and inside Phoenix. Every identity field such a
header carries is filled from ``Patient`` and ``Site`` so that
de-identification can be tested on it; ``identity_strings`` lists the values
that must not survive it.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from datetime import datetime

from recon_image.raw.kspace import Protocol, RampSampling
from recon_image.raw.protocol import PARTIAL_FOURIER_CODES

_FIRST = ("Jane", "John", "Maria", "Ahmed", "Mei", "Olga", "Kwame", "Lucia", "Tomas", "Anika")
_LAST = ("Doe", "Roe", "Smith", "Okafor", "Nakamura", "Ivanova", "Silva", "Berg", "Haddad")
_CITIES = ("Melbourne", "Geelong", "Ballarat", "Bendigo", "Hobart")


@dataclass(frozen=True)
class Patient:
    """A fictitious patient; ``Patient.fictitious(seed)`` draws one reproducibly."""

    name: str = "Doe^Jane"
    patient_id: str = "YC4711001"
    birth_date: str = "19710304"
    sex: str = "F"
    age_years: float = 54.0
    weight_kg: float = 68.5
    height_m: float = 1.68
    study_description: str = "Brain^Routine"
    referring_physician: str = "Grey^Meredith"

    @classmethod
    def fictitious(cls, seed: int = 0) -> Patient:
        rng = random.Random(seed)
        year = rng.randint(1940, 2005)
        return cls(
            name=f"{rng.choice(_LAST)}^{rng.choice(_FIRST)}",
            patient_id=f"YC{rng.randint(10**6, 10**7 - 1)}",
            birth_date=f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
            sex=rng.choice("FM"),
            age_years=float(2026 - year),
            weight_kg=round(rng.uniform(45, 110), 1),
            height_m=round(rng.uniform(1.50, 1.95), 2),
            study_description=rng.choice(("Brain^Routine", "Knee^Left", "Spine^Lumbar")),
            referring_physician=f"{rng.choice(_LAST)}^{rng.choice(_FIRST)}",
        )


@dataclass(frozen=True)
class Site:
    """A fictitious imaging site and its scanner; ``Site.fictitious(seed)`` draws one."""

    institution: str = "Yarra Valley Imaging"
    address: str = "12 River Street,Melbourne,VIC,AU,3000"
    serial_number: str = "166042"
    station_name: str = "MRC166042"
    performing_physician: str = "Bailey^Miranda"
    model: str = "Skyra"
    scan_time: datetime = datetime(2026, 3, 14, 9, 26, 53)

    @classmethod
    def fictitious(cls, seed: int = 0) -> Site:
        rng = random.Random(seed + 7919)
        city = rng.choice(_CITIES)
        serial = str(rng.randint(100000, 199999))
        return cls(
            institution=f"{city} Imaging Centre",
            address=f"{rng.randint(1, 300)} Main Road,{city},VIC,AU,{rng.randint(3000, 3999)}",
            serial_number=serial,
            station_name=f"MRC{serial}",
            performing_physician=f"{rng.choice(_LAST)}^{rng.choice(_FIRST)}",
            model=rng.choice(("Skyra", "Prisma", "Vida")),
            scan_time=datetime(2026, rng.randint(1, 12), rng.randint(1, 28), 8 + seed % 10, 5, 1),
        )


def _stamp(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S")


def _uids(site: Site) -> dict[str, str]:
    """The scanner's UIDs for one exam: all carry the serial number and the date."""
    root = f"1.3.12.2.1107.5.2.19.{site.serial_number}"
    stamp = _stamp(site.scan_time)
    return {
        "frame": f"{root}.1.{stamp}411234567.0.0.0",
        "exam": f"{root}.30000026{site.scan_time:%m%d}0812345678900000022",
        "patient_loid": f"{root}.30000026{site.scan_time:%m%d}08123456789000001",
        "study_loid": f"{root}.30000026{site.scan_time:%m%d}08123456789000011",
        "series_loid": f"{root}.2026{site.scan_time:%m%d}{stamp[8:]}123456789",
        "reference": f"{root}.1.{stamp}7731523423",
    }


def identity_strings(patient: Patient, site: Site) -> tuple[str, ...]:
    """Every identifying value the header carries, as it appears in the text."""
    uids = _uids(site)
    return (
        patient.name,
        patient.patient_id,
        patient.birth_date,
        patient.study_description,
        patient.referring_physician,
        site.institution,
        site.address,
        site.serial_number,
        site.station_name,
        site.performing_physician,
        *uids.values(),
    )


def _single(kind: str, name: str, value: str) -> str:
    return f'<Param{kind}."{name}">  {{ {value}  }}'


def _multi(kind: str, name: str, value: str, indent: str = "      ") -> str:
    return f'{indent}<Param{kind}."{name}"> \n{indent}{{ \n{indent}  {value}\n{indent}}}'


def _text(value: str) -> str:
    return f'"{value}"'


def _double(value: float, precision: int = 6) -> str:
    return f"<Precision> {precision}  {value:.{precision}f}"


def _xprotocol(name: str, body: list[str]) -> str:
    inner = "\n  ".join(body)
    return (
        f'<XProtocol> \n{{\n  <Name> "{name}" \n  <ID> 1000002 \n  <Userversion> 2.0 \n\n'
        f'  <ParamMap."">\n  {{\n  {inner}\n  }}\n}}\n'
    )


def config_buffer(protocol: Protocol, patient: Patient, site: Site, chron: tuple[int, ...]) -> str:
    uids = _uids(site)
    body = [
        _single("String", "tPatientName", _text(patient.name)),
        _single("String", "PatientName", _text(patient.name)),
        _single("String", "PatientID", _text(patient.patient_id)),
        _single("String", "PatientBirthDay", _text(patient.birth_date)),
        _single("Long", "PatientSex", _sex_code(patient)),
        _single("String", "PatientLOID", _text(uids["patient_loid"])),
        _single("String", "StudyLOID", _text(uids["study_loid"])),
        _single("String", "SeriesLOID", _text(uids["series_loid"])),
        _single("String", "Patient", _text(uids["patient_loid"])),
        _single("String", "Study", _text(uids["study_loid"])),
        _single("String", "FrameOfReference", _text(uids["frame"])),
        _single("String", "ExamMemoryUID", _text(f"ExamMemory_{uids['exam']}")),
        _single("String", "tStudyDescription", _text(patient.study_description)),
        _single("String", "PatientRegistrationData", _text(f"{patient.name}|{patient.birth_date}")),
        _single("String", "tReferringPhysician", _text(patient.referring_physician)),
        _single("String", "SequenceDescription", _text(protocol.protocol_name)),
        _single("String", "tProtocolName", _text(protocol.protocol_name)),
        _single("Long", "NoOfFourierColumns", str(round(protocol.matrix[0] * 2))),
        _single("Long", "NoOfFourierLines", str(protocol.matrix[1])),
        _single("Long", "NoOfFourierPartitions", str(protocol.matrix[2])),
        _single("Long", "NSlc", str(len(protocol.slices) if protocol.dimension == 2 else 1)),
        _single("Long", "chronSliceIndices", _chronology(chron)),
        _single("Long", "MeasUID", "1234"),
    ]
    return _xprotocol("Config", body)


def _chronology(chron: tuple[int, ...]) -> str:
    """Spatial slice of each acquisition in turn, padded with -1 as the scanner writes it."""
    order = [*chron] if chron else [0]
    return " ".join(str(i) for i in order + [-1] * max(2, 16 - len(order)))


def _sex_code(patient: Patient) -> str:
    """The header's code of the patient's sex: 1 female, 2 male, 3 other (as E11 writes it)."""
    return str({"F": 1, "M": 2}.get(patient.sex, 3))


def _dicom_values(protocol: Protocol, patient: Patient, site: Site) -> list[tuple[str, str, str]]:
    return [
        ("String", "tPatientName", _text(patient.name)),
        ("Long", "lPatientSex", _sex_code(patient)),
        ("Double", "flPatientAge", _double(patient.age_years)),
        ("Double", "flUsedPatientWeight", _double(patient.weight_kg)),
        ("String", "InstitutionName", _text(site.institution)),
        ("String", "InstitutionAddress", _text(site.address)),
        ("String", "DeviceSerialNumber", _text(site.serial_number)),
        ("String", "tPerfPhysiciansName", _text(site.performing_physician)),
        ("String", "StationName", _text(site.station_name)),
        ("String", "Manufacturer", _text("Siemens Healthineers")),
        ("String", "ManufacturersModelName", _text(site.model)),
        ("String", "SoftwareVersions", _text(protocol.software_version or "syngo MR E11")),
        ("String", "tPatientPosition", _text(protocol.patient_position)),
        ("Double", "flReadoutOSFactor", _double(protocol.readout_oversampling)),
        ("Double", "flMagneticFieldStrength", _double(protocol.field_strength_t)),
        ("String", "tScanningSequence", _text("\\".join(protocol.scanning_sequence))),
        ("String", "tSequenceVariant", _text("\\".join(protocol.sequence_variant))),
        ("String", "tMRAcquisitionType", _text(f"{protocol.dimension}D")),
        ("String", "Modality", _text("MR")),
    ]


def dicom_buffer(protocol: Protocol, patient: Patient, site: Site) -> str:
    body = [
        _single(kind, name, value) for kind, name, value in _dicom_values(protocol, patient, site)
    ]
    return _xprotocol("Dicom", body)


def meas_buffer(protocol: Protocol, patient: Patient, site: Site) -> str:
    values = [
        *_dicom_values(protocol, patient, site),
        ("String", "PatientsName", _text(patient.name)),
        ("String", "PatientID", _text(patient.patient_id)),
        ("String", "PatientBirthDay", _text(patient.birth_date)),
        ("Double", "flPatientHeight", _double(patient.height_m * 1000.0)),
        ("String", "tReferringPhysician", _text(patient.referring_physician)),
        *_regrid_values(protocol),
    ]
    return _xprotocol("Meas", [_multi(kind, name, value) for kind, name, value in values])


def _regrid_values(protocol: Protocol) -> list[tuple[str, str, str]]:
    """Meas' ``alRegrid*`` arrays (two entries, as an E11 scanner writes them; mode 1: none)."""
    ramp = protocol.ramp_sampling
    if ramp is None:
        ramp = RampSampling(
            mode=1, rampup_us=0, flattop_us=0, rampdown_us=0, delay_us=0, adc_duration_us=0
        )
    longs = (
        ("alRegridRampupTime", ramp.rampup_us),
        ("alRegridRampdownTime", ramp.rampdown_us),
        ("alRegridFlattopTime", ramp.flattop_us),
        ("alRegridDelaySamplesTime", ramp.delay_us),
        ("alRegridDestSamples", ramp.destination_samples),
        ("alRegridMode", ramp.mode),
    )
    values = [("Long", name, f"{round(value)} {round(value)}") for name, value in longs]
    duration = f"<Precision> 6  {ramp.adc_duration_us:.6f} {ramp.adc_duration_us:.6f}"
    return [*values, ("Double", "aflRegridADCDuration", duration)]


def ascconv(protocol: Protocol, site: Site) -> str:
    """The MeasYaps (ASCCONV) text of ``protocol``."""
    uids = _uids(site)
    geometry = protocol.slices
    lines = [
        "### ASCCONV BEGIN object=MrProtDataImpl@MrProtocolData version=51130001 "
        "converter=%MEASCONST%/ConverterList/Prot_Converter.txt ###",
        "ulVersion                                = 0x14b44b6",
        f'tSequenceFileName                        = "{protocol.sequence_name}"',
        f'tProtocolName                            = "{protocol.protocol_name}"',
    ]
    for i in range(3):
        lines.append(f'tReferenceImage{i}                         = "{uids["reference"]}{i}"')
    lines += [
        f"lContrasts                               = {len(protocol.te_ms)}",
        f"alTR[0]                                  = {round(protocol.tr_ms * 1000)}",
        *(
            f"alTE[{i}]                                  = {round(te * 1000)}"
            for i, te in enumerate(protocol.te_ms)
        ),
    ]
    if protocol.ti_ms is not None:
        lines.append(f"alTI[0]                                  = {round(protocol.ti_ms * 1000)}")
    lines += [
        f"adFlipAngleDegree[0]                     = {protocol.flip_deg}",
        f"sProtConsistencyInfo.flNominalB0         = {protocol.field_strength_t}",
        'sProtConsistencyInfo.tBaselineString    = "N4_VE11C_LATEST_20160120"',
        f"sKSpace.lBaseResolution                  = {protocol.matrix[0]}",
        f"sKSpace.lPhaseEncodingLines              = {protocol.matrix[1]}",
        f"sKSpace.lPartitions                      = {protocol.matrix[2]}",
        f"sKSpace.lImagesPerSlab                   = {protocol.matrix[2]}",
        f"sKSpace.ucDimension                      = {'0x4' if protocol.dimension == 3 else '0x2'}",
        "sKSpace.ucTrajectory                     = "
        f"{'0x2' if protocol.trajectory == 'radial' else '0x1'}",
        "sKSpace.dPhaseResolution                 = 1",
        f"sKSpace.ucPhasePartialFourier            = "
        f"0x{PARTIAL_FOURIER_CODES.get(protocol.partial_fourier[0], 16):x}",
        f"sKSpace.ucSlicePartialFourier            = "
        f"0x{PARTIAL_FOURIER_CODES.get(protocol.partial_fourier[1], 16):x}",
        f"sPat.lAccelFactPE                        = {protocol.acceleration[0]}",
        f"sPat.lAccelFact3D                        = {protocol.acceleration[1]}",
        f"sPat.lRefLinesPE                         = {protocol.reference_lines[0]}",
        f"sPat.lRefLines3D                         = {protocol.reference_lines[1]}",
        f"sFastImaging.lEPIFactor                  = {protocol.epi_factor}",
        f"sFastImaging.lSegments                   = {protocol.segments}",
        f"sSliceAcceleration.lMultiBandFactor      = {protocol.multiband}",
        f"sSliceArray.lSize                        = {len(geometry)}",
    ]
    for i, g in enumerate(geometry):
        prefix = f"sSliceArray.asSlice[{i}]."
        for axis, value in zip(("dSag", "dCor", "dTra"), g.position_mm, strict=True):
            if value != 0.0:
                lines.append(f"{prefix}sPosition.{axis:<20} = {value:.8f}")
        for axis, value in zip(("dSag", "dCor", "dTra"), g.slice_dir, strict=True):
            if value != 0.0:
                lines.append(f"{prefix}sNormal.{axis:<22} = {value:.8f}")
        lines += [
            f"{prefix}dThickness                  = {g.thickness_mm}",
            f"{prefix}dPhaseFOV                   = {protocol.fov_mm[1]}",
            f"{prefix}dReadoutFOV                 = {protocol.fov_mm[0]}",
        ]
    lines.append("### ASCCONV END ###")
    return "\n".join(lines) + "\n"


def measurement_buffers(
    protocol: Protocol,
    patient: Patient,
    site: Site,
    chronological_slices: tuple[int, ...] = (),
) -> dict[str, str]:
    """All six header buffers of one measurement, in the scanner's order."""
    yaps = ascconv(protocol, site)
    return {
        "Config": config_buffer(protocol, patient, site, chronological_slices),
        "Dicom": dicom_buffer(protocol, patient, site),
        "Meas": meas_buffer(protocol, patient, site),
        "MeasYaps": yaps,
        "Phoenix": _xprotocol(
            "Phoenix", [_multi("String", "tProtocolName", _text(protocol.protocol_name))]
        )
        + yaps,
        "Spice": _xprotocol("Spice", [_single("Bool", "ReconSwitch", '"true"')]),
    }


_STALE = b'</XProtocol>\n}\n  <ParamLong."lDummy">  { 0  }\n'


def measurement_header_bytes(buffers: dict[str, str], align: int = 32) -> bytes:
    """The binary measurement header: ``hdr_len``, ``n_buffers``, named buffers, stale padding.

    ``hdr_len`` is rounded up to ``align`` bytes; as on a scanner, the padding
    holds leftover text rather than zeros.
    """
    body = b"".join(
        name.encode("ascii")
        + b"\x00"
        + struct.pack("<I", len(text.encode("latin-1")))
        + text.encode("latin-1")
        for name, text in buffers.items()
    )
    length = 8 + len(body)
    total = -(-length // align) * align
    padding = (_STALE * (1 + (total - length) // len(_STALE)))[: total - length]
    return struct.pack("<II", total, len(buffers)) + body + padding
