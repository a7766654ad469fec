"""Write a simulated scan as an ISMRMRD/MRD HDF5 file through the ``ismrmrd`` package."""

from __future__ import annotations

from pathlib import Path

import ismrmrd
import ismrmrd.xsd as xsd

from recon_image.raw.kspace import Protocol
from recon_image.raw.readouts import Flag
from scripts.phantoms.header import Patient, Site
from scripts.phantoms.scan import SimulatedScan

_FLAGS = (
    (Flag.NOISEADJSCAN, ismrmrd.ACQ_IS_NOISE_MEASUREMENT),
    (Flag.REFLECT, ismrmrd.ACQ_IS_REVERSE),
    (Flag.PATREFSCAN, ismrmrd.ACQ_IS_PARALLEL_CALIBRATION),
    (Flag.PATREFANDIMASCAN, ismrmrd.ACQ_IS_PARALLEL_CALIBRATION_AND_IMAGING),
    (Flag.PHASCOR, ismrmrd.ACQ_IS_PHASECORR_DATA),
)
_COUNTERS = (
    ("lin", "kspace_encode_step_1"),
    ("par", "kspace_encode_step_2"),
    ("sli", "slice"),
    ("ave", "average"),
    ("eco", "contrast"),
    ("phs", "phase"),
    ("rep", "repetition"),
    ("set", "set"),
    ("seg", "segment"),
)


def _limit(low: int, high: int, centre: int) -> xsd.limitType:
    return xsd.limitType(minimum=low, maximum=high, center=centre)


def header_xml(protocol: Protocol, scan: SimulatedScan, patient: Patient, site: Site) -> str:
    """The MRD XML header of ``scan``."""
    nx, ny, nz = protocol.matrix
    columns = round(nx * protocol.readout_oversampling)
    table = scan.readouts
    lines = table["lin"][(table["flags"] & Flag.NOISEADJSCAN.mask) == 0]
    slices = len(protocol.slices) if protocol.dimension == 2 else 1
    encoded = xsd.encodingSpaceType(
        matrixSize=xsd.matrixSizeType(x=columns, y=ny, z=nz),
        fieldOfView_mm=xsd.fieldOfViewMm(
            x=protocol.fov_mm[0] * protocol.readout_oversampling,
            y=protocol.fov_mm[1],
            z=protocol.fov_mm[2],
        ),
    )
    recon = xsd.encodingSpaceType(
        matrixSize=xsd.matrixSizeType(x=nx, y=ny, z=nz),
        fieldOfView_mm=xsd.fieldOfViewMm(
            x=protocol.fov_mm[0], y=protocol.fov_mm[1], z=protocol.fov_mm[2]
        ),
    )
    limits = xsd.encodingLimitsType(
        kspace_encoding_step_0=_limit(0, columns - 1, columns // 2),
        kspace_encoding_step_1=_limit(int(lines.min()), int(lines.max()), ny // 2),
        kspace_encoding_step_2=_limit(0, nz - 1, nz // 2 if protocol.dimension == 3 else 0),
        slice=_limit(0, slices - 1, 0),
        average=_limit(0, scan.settings.averages - 1, 0),
    )
    header = xsd.ismrmrdHeader(
        version=2,
        subjectInformation=xsd.subjectInformationType(
            patientName=patient.name,
            patientWeight_kg=patient.weight_kg,
            patientHeight_m=patient.height_m,
            patientID=patient.patient_id,
            patientGender="F" if patient.sex == "F" else "M",
        ),
        measurementInformation=xsd.measurementInformationType(
            patientPosition=xsd.patientPositionType(protocol.patient_position),
            protocolName=protocol.protocol_name,
            sequenceName=protocol.sequence_name,
        ),
        acquisitionSystemInformation=xsd.acquisitionSystemInformationType(
            systemVendor="SIEMENS",
            systemModel=site.model,
            systemFieldStrength_T=protocol.field_strength_t,
            receiverChannels=scan.settings.coils,
            institutionName=site.institution,
            deviceSerialNumber=site.serial_number,
        ),
        experimentalConditions=xsd.experimentalConditionsType(
            H1resonanceFrequency_Hz=round(42.577478e6 * protocol.field_strength_t)
        ),
        encoding=[
            xsd.encodingType(
                encodedSpace=encoded,
                reconSpace=recon,
                encodingLimits=limits,
                trajectory=(
                    xsd.trajectoryType.GOLDENANGLE
                    if protocol.trajectory == "radial"
                    else xsd.trajectoryType.CARTESIAN
                ),
                parallelImaging=xsd.parallelImagingType(
                    accelerationFactor=xsd.accelerationFactorType(
                        kspace_encoding_step_1=protocol.acceleration[0],
                        kspace_encoding_step_2=protocol.acceleration[1],
                    )
                ),
            )
        ],
        sequenceParameters=xsd.sequenceParametersType(
            TR=[protocol.tr_ms],
            TE=list(protocol.te_ms),
            TI=[protocol.ti_ms] if protocol.ti_ms is not None else [],
            flipAngle_deg=[protocol.flip_deg],
        ),
    )
    return xsd.ToXML(header)


def write_mrd(
    scan: SimulatedScan,
    path: Path,
    *,
    patient: Patient | None = None,
    site: Site | None = None,
) -> Path:
    """Write ``scan`` to ``path`` (which must not exist) as an MRD file, group ``dataset``."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(path)
    patient = patient or Patient()
    site = site or Site()
    with ismrmrd.Dataset(str(path), "dataset", create_if_needed=True) as dataset:
        dataset.write_xml_header(header_xml(scan.protocol, scan, patient, site))
        for row, entry in enumerate(scan.readouts):
            acquisition = ismrmrd.Acquisition.from_array(scan.samples[row])
            acquisition.scan_counter = row + 1
            acquisition.center_sample = int(entry["centre_column"])
            acquisition.sample_time_us = 5.0
            for ours, theirs in _COUNTERS:
                setattr(acquisition.idx, theirs, int(entry[ours]))
            for flag, number in _FLAGS:
                if int(entry["flags"]) & flag.mask:
                    acquisition.setFlag(number)
            acquisition.position[:] = [float(v) for v in entry["position"]]
            acquisition.read_dir[:] = [float(v) for v in entry["read_dir"]]
            acquisition.phase_dir[:] = [float(v) for v in entry["phase_dir"]]
            acquisition.slice_dir[:] = [float(v) for v in entry["slice_dir"]]
            dataset.append_acquisition(acquisition)
    return path
