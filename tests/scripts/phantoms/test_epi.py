"""The EPI phantom's header holds the readout's ramps as a real E11 scanner writes them.

twixtools, an independent reader, regrids the phantom's readouts from that
header back to the object's true width.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import twixtools

from recon_image.raw.read import read_raw
from scripts.phantoms.__main__ import main
from scripts.phantoms.epi import EpiSettings, simulate_epi
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_ve import write_ve

REAL = Path(__file__).parents[2] / "data" / "siemens-e11-gre.dat"
REGRID = (
    "alRegridMode",
    "alRegridRampupTime",
    "alRegridFlattopTime",
    "alRegridRampdownTime",
    "alRegridDelaySamplesTime",
    "alRegridDestSamples",
    "aflRegridADCDuration",
)


def meas(path: Path) -> dict:
    return twixtools.read_twix(str(path), parse_data=False)[-1]["hdr"]["Meas"]


def test_the_regrid_arrays_have_the_real_files_form(tmp_path: Path) -> None:
    real = meas(REAL)
    gre = meas(write_ve(simulate(ScanSettings(matrix=(32, 32, 1), coils=2)), tmp_path / "g.dat"))
    epi = meas(write_ve(simulate_epi(EpiSettings(matrix=(64, 16, 1))), tmp_path / "e.dat"))

    for name in REGRID:
        assert type(gre[name]) is type(real[name]) is type(epi[name]) is list
        assert len(gre[name]) == len(real[name]) == len(epi[name])
        assert {type(v) for v in gre[name]} == {type(v) for v in real[name]}
        assert {type(v) for v in epi[name]} == {type(v) for v in real[name]}
    assert gre["alRegridMode"] == real["alRegridMode"] == [1, 1]
    assert epi["alRegridMode"] == [2, 2]
    assert epi["alRegridDestSamples"] == [128, 128]
    assert epi["aflRegridADCDuration"] == [580.0, 580.0]


def half_peak_width(profile: np.ndarray) -> float:
    half = profile.max() / 2
    above = np.flatnonzero(profile >= half)
    left, right = above[0], above[-1]
    rise = left - 1 + (half - profile[left - 1]) / (profile[left] - profile[left - 1])
    fall = right + (profile[right] - half) / (profile[right] - profile[right + 1])
    return float(fall - rise)


def twixtools_width(path: Path, regrid: bool) -> float:
    """The object's width along the readout in the image twixtools' own k-space gives."""
    image = twixtools.map_twix(str(path), verbose=False)[-1]["image"]
    image.flags["regrid"] = regrid
    image.flags["remove_os"] = True
    image.flags["squeeze_singletons"] = True
    kspace = image[:]  # (lines, coils, columns)
    coils = np.fft.fftshift(
        np.fft.ifft2(np.fft.ifftshift(kspace, axes=(0, 2)), axes=(0, 2)), axes=(0, 2)
    )
    return half_peak_width(np.sqrt((np.abs(coils) ** 2).sum(axis=1)).mean(axis=0))


def test_twixtools_regrids_the_phantom_to_the_objects_true_width(tmp_path: Path) -> None:
    scan = simulate_epi(EpiSettings(matrix=(128, 64, 1), coils=4))
    path = write_ve(scan, tmp_path / "epi.dat")
    truth = half_peak_width(scan.truth[0].mean(axis=0))

    regridded, raw = (twixtools_width(path, regrid) / truth for regrid in (True, False))

    print(f"\ntwixtools on the EPI phantom: width / truth {regridded:.4f} regridded, {raw:.4f} not")
    assert abs(regridded - 1) < 0.02
    assert raw > 1.15


def test_the_phantom_command_writes_an_epi_the_worker_reads(tmp_path: Path, capsys) -> None:
    path = tmp_path / "epi.dat"

    assert main([str(path), "--epi", "--matrix", "64", "16", "2", "--coils", "2"]) == 0

    kspace = read_raw(path, method="cartesian")
    assert kspace.protocol.epi_factor == 16 and kspace.protocol.ramp_sampling is not None
    assert kspace.data.shape == (1, 2, 2, 16, 128)
    with pytest.raises(SystemExit):
        main([str(tmp_path / "epi.h5"), "--epi", "--format", "mrd"])
    assert "--epi writes a 2D TWIX file" in capsys.readouterr().err
