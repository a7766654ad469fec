"""Siemens protocol values (MeasYaps/ASCCONV and the XProtocol buffers) into ``Protocol``.

The slice geometry is left empty here: the sorter takes it from the scan
headers' SliceData, which is what the scanner really acquired.
"""

from __future__ import annotations

from pathlib import Path

from recon_image.errors import RawDataError
from recon_image.raw.kspace import Protocol, RampSampling
from recon_image.raw.measurement_header import MeasurementHeader

# sKSpace.ucPhasePartialFourier / ucSlicePartialFourier codes
PARTIAL_FOURIER = {1: 4 / 8, 2: 5 / 8, 4: 6 / 8, 8: 7 / 8, 16: 1.0}
PARTIAL_FOURIER_CODES = {value: key for key, value in PARTIAL_FOURIER.items()}
# sKSpace.ucTrajectory codes
TRAJECTORIES = {1: "cartesian", 2: "radial"}
# sKSpace.ucDimension codes
DIMENSIONS = {1: 2, 2: 2, 4: 3}
# Dicom lPatientSex codes
PATIENT_SEX = {1: "F", 2: "M", 3: "O"}


class _Values:
    """Typed look-ups in one measurement's header with errors that name the missing value."""

    def __init__(self, header: MeasurementHeader, path: Path) -> None:
        self.header = header
        self.path = path

    def text(self, key: str, default: str | None = None) -> str:
        value = self.header.ascconv.get(key)
        if value is None:
            if default is None:
                raise RawDataError(
                    str(self.path),
                    self.header.offset,
                    f"the protocol (MeasYaps) lacks {key}, which the reconstruction needs",
                )
            return default
        return value

    def number(self, key: str, default: float | None = None) -> float:
        raw = self.header.ascconv.get(key)
        if raw is None or raw == "":
            if default is not None:
                return default
            return float(self.text(key))
        try:
            return float(int(raw, 16)) if raw.lower().startswith("0x") else float(raw)
        except ValueError:
            raise RawDataError(
                str(self.path),
                self.header.offset,
                f"the protocol value {key} = {raw!r} is not a number",
            ) from None

    def xprotocol(self, buffer: str, key: str) -> object | None:
        return self.header.values.get(buffer, {}).get(key)


def protocol_from_header(header: MeasurementHeader, path: Path) -> Protocol:
    """The reconstruction's protocol values from a TWIX measurement header (slices left empty)."""
    v = _Values(header, path)
    dimension_code = int(v.number("sKSpace.ucDimension", 2.0))
    dimension = DIMENSIONS.get(dimension_code)
    if dimension is None:
        raise RawDataError(
            str(path),
            header.offset,
            f"sKSpace.ucDimension = {dimension_code} is neither 2D nor 3D Cartesian",
        )
    columns = int(v.number("sKSpace.lBaseResolution"))
    lines = int(v.number("sKSpace.lPhaseEncodingLines"))
    partitions = int(v.number("sKSpace.lPartitions", 1.0)) if dimension == 3 else 1
    for key, value in (
        ("sKSpace.lBaseResolution", columns),
        ("sKSpace.lPhaseEncodingLines", lines),
        ("sKSpace.lPartitions", partitions),
    ):
        if value <= 0:
            raise RawDataError(str(path), header.offset, f"the protocol gives {key} = {value}")
    thickness = v.number("sSliceArray.asSlice[0].dThickness")
    fov = (
        v.number("sSliceArray.asSlice[0].dReadoutFOV"),
        v.number("sSliceArray.asSlice[0].dPhaseFOV"),
        thickness,
    )
    oversampling = v.xprotocol("Dicom", "flReadoutOSFactor")
    if not isinstance(oversampling, float):
        oversampling = 2.0
    phase_pf = PARTIAL_FOURIER.get(int(v.number("sKSpace.ucPhasePartialFourier", 16.0)), 1.0)
    slice_pf = PARTIAL_FOURIER.get(int(v.number("sKSpace.ucSlicePartialFourier", 16.0)), 1.0)
    contrasts = max(1, int(v.number("lContrasts", 1.0)))
    te = tuple(v.number(f"alTE[{i}]", 0.0) / 1000.0 for i in range(contrasts))
    ti_us = v.number("alTI[0]", 0.0)
    field = v.xprotocol("Dicom", "flMagneticFieldStrength")
    if not isinstance(field, float):
        field = v.number("sProtConsistencyInfo.flNominalB0", 0.0)
    position = v.xprotocol("Dicom", "tPatientPosition")
    software = v.xprotocol("Dicom", "SoftwareVersions")
    sex = v.xprotocol("Dicom", "lPatientSex")
    return Protocol(
        sequence_name=v.text("tSequenceFileName", "").replace("\\\\", "\\"),
        protocol_name=v.text("tProtocolName", ""),
        dimension=dimension,
        matrix=(columns, lines, partitions),
        fov_mm=fov,
        readout_oversampling=float(oversampling),
        partial_fourier=(phase_pf, slice_pf if dimension == 3 else 1.0),
        acceleration=(
            max(1, int(v.number("sPat.lAccelFactPE", 1.0))),
            max(1, int(v.number("sPat.lAccelFact3D", 1.0))) if dimension == 3 else 1,
        ),
        slices=(),
        slice_spacing_mm=thickness / partitions if dimension == 3 else thickness,
        tr_ms=v.number("alTR[0]", 0.0) / 1000.0,
        te_ms=te,
        ti_ms=ti_us / 1000.0 if ti_us > 0 else None,
        flip_deg=v.number("adFlipAngleDegree[0]", 0.0),
        field_strength_t=float(field),
        patient_position=position if isinstance(position, str) and position else "HFS",
        software_version=software if isinstance(software, str) else "",
        reference_lines=(
            max(0, int(v.number("sPat.lRefLinesPE", 0.0))),
            max(0, int(v.number("sPat.lRefLines3D", 0.0))) if dimension == 3 else 0,
        ),
        trajectory=_trajectory(v, header, path),  # type: ignore[arg-type]
        scanning_sequence=_dicom_values(v.xprotocol("Dicom", "tScanningSequence")),
        sequence_variant=_dicom_values(v.xprotocol("Dicom", "tSequenceVariant")),
        patient_sex=PATIENT_SEX.get(int(sex), "") if isinstance(sex, int | float) else "",
        ramp_sampling=_ramp_sampling(v),
        epi_factor=max(1, int(v.number("sFastImaging.lEPIFactor", 1.0))),
        segments=max(1, int(v.number("sFastImaging.lSegments", 1.0))),
        multiband=max(1, int(v.number("sSliceAcceleration.lMultiBandFactor", 1.0))),
    )


def _first(v: _Values, key: str) -> float:
    """Entry 0 of the Meas array ``key`` (as twixtools reads it), 0 where absent or empty."""
    value = v.xprotocol("Meas", key)
    if isinstance(value, list):
        value = value[0] if value else 0
    return float(value) if isinstance(value, int | float) else 0.0


def _ramp_sampling(v: _Values) -> RampSampling | None:
    """The readout's ramps when Meas ``alRegridMode`` asks for regridding (above 1)."""
    mode = int(_first(v, "alRegridMode"))
    if mode <= 1:
        return None
    return RampSampling(
        mode=mode,
        rampup_us=_first(v, "alRegridRampupTime"),
        flattop_us=_first(v, "alRegridFlattopTime"),
        rampdown_us=_first(v, "alRegridRampdownTime"),
        delay_us=_first(v, "alRegridDelaySamplesTime"),
        adc_duration_us=_first(v, "aflRegridADCDuration"),
        destination_samples=int(_first(v, "alRegridDestSamples")),
    )


def _dicom_values(value: object) -> tuple[str, ...]:
    """The values of a multi-valued DICOM string the Dicom buffer holds ("GR\\IR")."""
    if not isinstance(value, str):
        return ()
    return tuple(part.strip() for part in value.split("\\") if part.strip())


def _trajectory(v: _Values, header: MeasurementHeader, path: Path) -> str:
    code = int(v.number("sKSpace.ucTrajectory", 1.0))
    if code not in TRAJECTORIES:
        raise RawDataError(
            str(path),
            header.offset,
            f"sKSpace.ucTrajectory = {code} is neither Cartesian (1) nor radial (2); no"
            " built-in mode reconstructs this trajectory: reconstruct it on the scanner",
        )
    return TRAJECTORIES[code]
