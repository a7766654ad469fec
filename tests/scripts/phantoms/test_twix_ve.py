"""VE files from twixtools' own writer with our header are real TWIX: twixtools reads them back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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
