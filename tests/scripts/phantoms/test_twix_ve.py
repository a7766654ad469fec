"""VE files from twixtools' own writer with our header are real TWIX: twixtools reads them back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import twixtools

from scripts.phantoms.header import Patient, Site
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_ve import ACQEND_DMA_LENGTH, write_ve


def test_twixtools_reads_our_ve_file(tmp_path: Path) -> None:
    scan = simulate(
        ScanSettings(dimension=2, matrix=(32, 32, 3), coils=2, reflect=True, noise_scans=2)
    )
    patient, site = Patient.fictitious(3), Site.fictitious(3)
    path = write_ve(scan, tmp_path / "meas.dat", patient=patient, site=site)

    measurements = twixtools.read_twix(str(path), verbose=False, keep_acqend=True)

    assert len(measurements) == 2
    imaging = measurements[-1]
    assert imaging["raidfile_hdr"]["patName_"].decode() == patient.name
    assert imaging["raidfile_hdr"]["protName_"].decode() == scan.protocol.protocol_name
    header = imaging["hdr"]
    assert header["Dicom"]["tPatientName"] == patient.name
    assert header["Dicom"]["InstitutionName"] == site.institution
    assert header["MeasYaps"]["sKSpace"]["lBaseResolution"] == 32
    assert header["MeasYaps"]["tProtocolName"] == scan.protocol.protocol_name
    mdbs = imaging["mdb"]
    assert mdbs[-1].is_flag_set("ACQEND")
    assert int(mdbs[-1].dma_len) == ACQEND_DMA_LENGTH
    readouts = mdbs[:-1]
    assert len(readouts) == len(scan.readouts)
    for row in (0, 2, len(readouts) - 1):
        mdb = readouts[row]
        assert mdb.cLin == scan.readouts["lin"][row]
        assert mdb.cSlc == scan.readouts["sli"][row]
        assert mdb.is_flag_set("REFLECT") == bool(scan.readouts["flags"][row] & (1 << 24))
        assert np.array_equal(mdb.data, scan.samples[row])
    offsets = [g.offset for g in imaging["geometry"]]
    expected = [s.position_mm for s in scan.protocol.slices]
    np.testing.assert_allclose(offsets, expected, atol=1e-4)


REAL_FILE = Path(__file__).resolve().parents[2] / "data" / "siemens-e11-gre.dat"
NOMINAL_FIELDS_T = (0.35, 0.55, 1.0, 1.5, 3.0, 5.0, 7.0, 9.4, 11.7)


def _conventions(path: Path) -> dict[str, object]:
    """What twixtools reads of a file's geometry and DICOM values, checked where it must agree."""
    measurement = twixtools.read_twix(str(path), verbose=False)[-1]
    header = measurement["hdr"]
    geometry = measurement["geometry"][0]
    first = next(m for m in measurement["mdb"] if m.is_image_scan() and m.cSlc == 0)
    quaternion = np.asarray(first.mdh.SliceData.Quaternion, dtype=np.float64)
    slice_ = header["MeasYaps"]["sSliceArray"]["asSlice"][0]
    s_normal = np.array([slice_["sNormal"].get(axis, 0.0) for axis in ("dSag", "dCor", "dTra")])
    s_position = [slice_["sPosition"].get(axis, 0.0) for axis in ("dSag", "dCor", "dTra")]
    prs_to_pcs = geometry.prs_to_pcs()
    # the quaternion, read scalar first, rotates the slice axis onto the protocol's sNormal
    assert np.linalg.norm(quaternion) == pytest.approx(1.0, abs=1e-5)
    assert np.degrees(np.arccos(min(1.0, float(prs_to_pcs[:, 2] @ s_normal)))) < 0.5
    slice_pos = first.mdh.SliceData.SlicePos
    np.testing.assert_allclose([slice_pos.Sag, slice_pos.Cor, slice_pos.Tra], s_position, atol=1e-3)
    dicom = header["Dicom"]
    field = dicom["flMagneticFieldStrength"]
    nominal = min(NOMINAL_FIELDS_T, key=lambda value: abs(value - field))
    assert abs(field - nominal) / nominal < 0.05
    return {
        "read": tuple(np.round(prs_to_pcs[:, 1]).tolist()),
        "phase": tuple(np.round(prs_to_pcs[:, 0]).tolist()),
        "normal": tuple(np.round(s_normal).tolist()),
        "field": (type(field), field != nominal),
        "sequence file": header["MeasYaps"]["tSequenceFileName"].split("\\")[0],
        "scanning": dicom["tScanningSequence"],
        "variant": dicom["tSequenceVariant"],
        "acquisition": dicom["tMRAcquisitionType"],
        "sex": (type(dicom["lPatientSex"]), dicom["lPatientSex"] in (1, 2, 3)),
        "position": (dicom["tPatientPosition"], header["Meas"]["tPatientPosition"]),
    }


def test_our_transverse_slice_is_written_as_the_real_e11_file_writes_its_own(tmp_path):
    scan = simulate(ScanSettings(dimension=2, matrix=(32, 32, 1), coils=2, tilt_deg=2.2))
    ours = _conventions(write_ve(scan, tmp_path / "meas.dat"))

    real = _conventions(REAL_FILE)

    assert ours.pop("sequence file") == "%SiemensSeq%"
    assert real.pop("sequence file") == "%CustomerSeq%"
    assert ours == real
    print(f"\nfield by field, ours = the real E11 file's: {real}")
