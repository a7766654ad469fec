"""read_raw on simulated scans written as TWIX VE, TWIX VB and MRD: the k-space comes back exact."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from recon_image.raw.kspace import KSpace, Protocol
from recon_image.raw.read import detect_format, read_raw
from scripts.phantoms.header import Patient
from scripts.phantoms.numeric import nrmse
from scripts.phantoms.scan import ScanSettings, SimulatedScan, simulate

CASES = {
    "2d": ScanSettings(dimension=2, matrix=(64, 64, 4), oversampling=2, noise_scans=8),
    "2d-no-oversampling-reflect": ScanSettings(
        dimension=2, matrix=(64, 48, 5), oversampling=1, reflect=True, seed=1
    ),
    "2d-partial-fourier-averages-noise": ScanSettings(
        dimension=2,
        matrix=(64, 64, 4),
        reflect=True,
        partial_fourier=6 / 8,
        averages=2,
        noise_scans=8,
        noise_sigma=0.02,
        seed=2,
    ),
    "3d": ScanSettings(dimension=3, matrix=(48, 48, 16), oversampling=2, noise_scans=4, seed=3),
    "3d-no-oversampling-reflect-partial-fourier": ScanSettings(
        dimension=3,
        matrix=(48, 40, 16),
        oversampling=1,
        reflect=True,
        partial_fourier=6 / 8,
        ti_ms=900.0,
        seed=4,
    ),
}
FORMATS = ("ve", "vb", "mrd")


def rss_image(kspace: KSpace) -> np.ndarray:
    """Plain numpy reconstruction: inverse centred FFT, oversampling crop, root sum of squares."""
    axes = (-2, -1) if kspace.protocol.dimension == 2 else (-3, -2, -1)
    images = np.fft.fftshift(
        np.fft.ifftn(np.fft.ifftshift(kspace.data, axes=axes), axes=axes), axes=axes
    )
    columns = kspace.protocol.matrix[0]
    start = images.shape[-1] // 2 - columns // 2
    images = images[..., start : start + columns]
    return np.sqrt(np.sum(np.abs(images) ** 2, axis=1))[0]


def assert_protocol(read: Protocol, expected: Protocol, fmt: str) -> None:
    """``read`` is ``expected`` as a writer with the default patient put it in the file."""
    skip = {"slices", "slice_spacing_mm"}
    if fmt == "mrd":
        skip |= {"software_version", "scanning_sequence", "sequence_variant"}
    expected = dataclasses.replace(expected, patient_sex=Patient().sex)
    for field in dataclasses.fields(Protocol):
        if field.name not in skip:
            assert getattr(read, field.name) == getattr(expected, field.name), field.name
    assert read.slice_spacing_mm == pytest.approx(expected.slice_spacing_mm, abs=1e-4)
    assert len(read.slices) == len(expected.slices)
    for got, want in zip(read.slices, expected.slices, strict=True):
        for name in ("position_mm", "read_dir", "phase_dir", "slice_dir"):
            np.testing.assert_allclose(getattr(got, name), getattr(want, name), atol=1e-5)
        assert got.thickness_mm == pytest.approx(want.thickness_mm)


@pytest.fixture(scope="module", params=list(CASES))
def scan(request: pytest.FixtureRequest) -> tuple[str, SimulatedScan]:
    return request.param, simulate(CASES[request.param])


@pytest.mark.parametrize("fmt", FORMATS)
def test_read_raw_returns_the_simulated_kspace(
    fmt: str, scan: tuple[str, SimulatedScan], write_raw
) -> None:
    case, simulated = scan
    path = write_raw(fmt, simulated)
    assert detect_format(path) == ("vd" if fmt == "ve" else fmt)

    kspace = read_raw(path)

    assert kspace.data.dtype == np.complex64
    assert kspace.data.shape == simulated.kspace.shape
    if simulated.settings.noise_sigma == 0:
        assert np.array_equal(kspace.data, simulated.kspace)
    else:
        np.testing.assert_allclose(kspace.data, simulated.kspace, rtol=0, atol=1e-6)
    assert np.array_equal(kspace.sampled, simulated.sampled)
    if simulated.noise is None:
        assert kspace.noise is None
    else:
        assert np.array_equal(kspace.noise, simulated.noise)
    assert_protocol(kspace.protocol, simulated.protocol, fmt)

    error = nrmse(rss_image(kspace), simulated.truth)
    fully_sampled = simulated.settings.partial_fourier == 1.0
    label = "fully sampled" if fully_sampled else "6/8 zero-filled"
    print(f"\n{fmt} {case}: {label} RSS NRMSE against the truth {100 * error:.2g}%")
    if fully_sampled and simulated.settings.noise_sigma == 0:
        assert error <= 0.01


def test_interleaved_slices_come_back_in_spatial_order(write_raw) -> None:
    simulated = simulate(ScanSettings(dimension=2, matrix=(32, 32, 7), coils=2))
    assert simulated.chronological_slices == (0, 2, 4, 6, 1, 3, 5)
    kspace = read_raw(write_raw("vb", simulated))
    normal = np.asarray(kspace.protocol.slices[0].slice_dir)
    along = [float(np.dot(s.position_mm, normal)) for s in kspace.protocol.slices]
    assert along == sorted(along)
    assert np.array_equal(kspace.data, simulated.kspace)


def test_multi_raid_file_reads_the_imaging_measurement(write_raw, tmp_path: Path) -> None:
    simulated = simulate(ScanSettings(dimension=2, matrix=(32, 32, 2), coils=2, noise_scans=2))
    path = write_raw("ve", simulated)
    header = np.fromfile(path, dtype="<u4", count=2)
    assert header.tolist() == [0, 2]
    kspace = read_raw(path)
    assert kspace.protocol.protocol_name == simulated.protocol.protocol_name
    assert np.array_equal(kspace.data, simulated.kspace)
