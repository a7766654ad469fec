"""The real Siemens E11 file (tests/data/siemens-e11-gre.dat) read as the scanner wrote it.

twixtools is the independent reader: ``twixtools.geometry`` derives the slice's
axes from the same scan headers (quaternion scalar first), and its protocol
parser reads the same header values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import twixtools

from recon_image.raw.read import read_raw
from tests.recon_image.dicom_geometry import angle_deg

REAL_FILE = Path(__file__).resolve().parents[2] / "data" / "siemens-e11-gre.dat"


@pytest.fixture(scope="module")
def twix() -> dict:
    return twixtools.read_twix(str(REAL_FILE), verbose=False)[-1]


def test_slice_axes_are_those_twixtools_geometry_derives(twix: dict) -> None:
    geometry = twix["geometry"][0]
    prs_to_pcs = geometry.prs_to_pcs()  # columns: phase, read, slice normal
    s_normal = np.asarray(geometry.normal)

    protocol = read_raw(REAL_FILE).protocol

    (slice_,) = protocol.slices
    np.testing.assert_allclose(slice_.read_dir, prs_to_pcs[:, 1], atol=1e-6)
    np.testing.assert_allclose(slice_.phase_dir, prs_to_pcs[:, 0], atol=1e-6)
    np.testing.assert_allclose(slice_.slice_dir, prs_to_pcs[:, 2], atol=1e-6)
    off = angle_deg(np.asarray(slice_.slice_dir), s_normal)
    print(f"\nreal E11 file: normal {slice_.slice_dir}, sNormal {s_normal}: {off:.4f} deg")
    assert off < 0.5
    # a transverse slice: the image's columns run right to left, its rows posterior to anterior
    assert slice_.read_dir[0] == pytest.approx(1.0, abs=1e-6)
    assert slice_.phase_dir[1] == pytest.approx(-np.sqrt(1 - s_normal[1] ** 2), abs=1e-6)
    np.testing.assert_allclose(slice_.position_mm, geometry.offset, atol=1e-4)


def test_protocol_values_are_the_headers_own(twix: dict) -> None:
    yaps, dicom = twix["hdr"]["MeasYaps"], twix["hdr"]["Dicom"]
    slice_ = yaps["sSliceArray"]["asSlice"][0]

    protocol = read_raw(REAL_FILE).protocol

    assert protocol.matrix == (160, 160, 1)
    assert protocol.fov_mm == (slice_["dReadoutFOV"], slice_["dPhaseFOV"], slice_["dThickness"])
    assert protocol.sequence_name == yaps["tSequenceFileName"] == "%CustomerSeq%\\gre"
    assert protocol.scanning_sequence == (dicom["tScanningSequence"],) == ("GR",)
    assert protocol.sequence_variant == (dicom["tSequenceVariant"],) == ("SP",)
    assert protocol.patient_sex == "O"  # lPatientSex 3
    assert dicom["lPatientSex"] == 3
    assert protocol.field_strength_t == pytest.approx(dicom["flMagneticFieldStrength"])
    assert protocol.te_ms == (yaps["alTE"][0] / 1000.0,) == (3.0,)
    assert protocol.tr_ms == yaps["alTR"][0] / 1000.0 == 10.0
    assert protocol.flip_deg == yaps["adFlipAngleDegree"][0] == 15.0
    assert protocol.patient_position == twix["hdr"]["Meas"]["tPatientPosition"] == "HFS"
