"""De-identifying MRD (ISMRMRD HDF5) files into a copy."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from agent.deid.mrd import deidentify_mrd
from agent.errors import DeidRefused
from recon_image.pipeline.cartesian import CartesianOptions, reconstruct
from recon_image.raw.read import read_raw
from scripts.phantoms.header import Patient, Site
from scripts.phantoms.mrd import write_mrd
from scripts.phantoms.scan import ScanSettings, simulate
from tests.agent.deid.leaks import found


def same_rows(a: np.ndarray, b: np.ndarray) -> bool:
    """Compound rows with variable-length fields (samples, trajectory) equal field by field."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return all(
        all(np.array_equal(x, y) for x, y in zip(a[name], b[name], strict=True))
        for name in a.dtype.names
    )


@pytest.fixture(scope="module")
def scan():
    return simulate(ScanSettings(matrix=(32, 32, 2), coils=2, seed=2))


@pytest.mark.parametrize("seed", [0, 3])
def test_copy_holds_no_identity_and_the_same_acquisitions(scan, tmp_path, seed):
    patient, site = Patient.fictitious(seed), Site.fictitious(seed)
    source = write_mrd(scan, tmp_path / "raw.h5", patient=patient, site=site)
    out = tmp_path / "clean.h5"

    result = deidentify_mrd(source, out)

    data = out.read_bytes()
    assert patient.name.encode() in source.read_bytes()
    assert found(data, patient, site) == []
    assert result.patches == ()
    assert result.replaced["patientName"] == patient.name
    assert result.replaced["deviceSerialNumber"] == site.serial_number
    with h5py.File(source) as a, h5py.File(out) as b:
        assert same_rows(a["dataset/data"][()], b["dataset/data"][()])
        xml = b["dataset/xml"][0].decode()
    assert "<patientWeight_kg>" in xml and "<patientGender>" in xml
    images = [reconstruct(read_raw(p), CartesianOptions(), threads=1) for p in (source, out)]
    assert np.array_equal(images[0], images[1])
    print(
        f"MRD seed {seed}: {len(data)} bytes copied, {len(result.replaced)} elements removed, "
        f"acquisitions and image {images[1].shape} identical"
    )


def test_study_date_and_time_are_kept_for_home(scan, tmp_path):
    source = write_mrd(scan, tmp_path / "raw.h5")
    with h5py.File(source, "r+") as f:
        xml = f["dataset/xml"][0].decode()
        study = (
            "<studyInformation><studyDate>2026-03-14</studyDate><studyTime>09:26:53</studyTime>"
            "<accessionNumber>A778899</accessionNumber></studyInformation>"
        )
        xml = xml.replace("<measurementInformation>", study + "<measurementInformation>")
        del f["dataset/xml"]
        f["dataset"].create_dataset("xml", data=[xml], dtype=h5py.string_dtype())

    result = deidentify_mrd(source, tmp_path / "clean.h5")

    assert (result.exam_date, result.exam_time) == ("20260314", "092653")
    data = (tmp_path / "clean.h5").read_bytes()
    assert b"2026-03-14" not in data and b"A778899" not in data


def test_unknown_identity_element_is_refused(scan, tmp_path):
    source = write_mrd(scan, tmp_path / "raw.h5")
    with h5py.File(source, "r+") as f:
        xml = (
            f["dataset/xml"][0]
            .decode()
            .replace(
                "</subjectInformation>",
                "<patientNickname>Janey</patientNickname></subjectInformation>",
            )
        )
        del f["dataset/xml"]
        f["dataset"].create_dataset("xml", data=[xml], dtype=h5py.string_dtype())
    out = tmp_path / "clean.h5"
    with pytest.raises(DeidRefused, match="patientNickname") as refused:
        deidentify_mrd(source, out)
    assert "Janey" not in str(refused.value)
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_not_mrd_is_refused(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_bytes(b"not hdf5 at all" * 100)
    with pytest.raises(DeidRefused, match="not HDF5"):
        deidentify_mrd(path, tmp_path / "clean.h5")
