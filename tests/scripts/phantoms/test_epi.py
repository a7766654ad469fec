"""The EPI phantom's header holds the readout's ramps as a real E11 scanner writes them."""

from __future__ import annotations

from pathlib import Path

import twixtools

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
