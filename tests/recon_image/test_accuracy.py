"""From a raw file on disk to an image: every reader through the whole pipeline, against the truth.

Each case writes a simulated phantom scan as the scanner would (VE or VB TWIX,
or MRD), reads it back with ``read_raw`` and reconstructs it with the
Cartesian pipeline; the normalised RMS error against the phantom is printed.
The Shepp-Logan of ISMRMRD's own tool is in ``raw/test_shepp_logan_mrd.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recon_image.pipeline.cartesian import CartesianOptions, reconstruct
from recon_image.raw.read import read_raw
from scripts.phantoms.mrd import write_mrd
from scripts.phantoms.numeric import nrmse
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_vb import write_vb
from scripts.phantoms.twix_ve import write_ve

WRITERS = {"ve": write_ve, "vb": write_vb, "mrd": write_mrd}
SUFFIX = {"ve": ".dat", "vb": ".dat", "mrd": ".h5"}


def _errors(
    tmp_path: Path, fmt: str, settings: ScanSettings, options: dict[str, CartesianOptions]
) -> dict[str, float]:
    """NRMSE of each named reconstruction of one simulated scan, written as ``fmt`` and read."""
    scan = simulate(settings)
    path = WRITERS[fmt](scan, tmp_path / f"scan{SUFFIX[fmt]}")
    errors = {}
    for name, option in options.items():
        image = reconstruct(read_raw(path), option)
        assert image.shape == (1, *scan.truth.shape)
        errors[name] = nrmse(image[0], scan.truth)
    return errors


@pytest.mark.parametrize("fmt", ["ve", "vb", "mrd"])
@pytest.mark.parametrize(
    ("dimension", "matrix"), [(2, (64, 48, 3)), (3, (48, 40, 8))], ids=["2d", "3d"]
)
@pytest.mark.parametrize("oversampling", [1, 2], ids=["os1", "os2"])
@pytest.mark.parametrize("reflect", [False, True], ids=["plain", "reflect"])
def test_fully_sampled_noise_free_within_one_percent(
    tmp_path: Path, fmt: str, dimension: int, matrix: tuple, oversampling: int, reflect: bool
) -> None:
    settings = ScanSettings(
        dimension=dimension,
        matrix=matrix,
        coils=4,
        oversampling=oversampling,
        reflect=reflect,
    )
    combinations = {c: CartesianOptions(coil_combination=c) for c in ("rss", "adaptive")}
    errors = _errors(tmp_path, fmt, settings, combinations)
    assert set(errors) == set(combinations)
    for combination, error in errors.items():
        print(
            f"{fmt} {dimension}D os={oversampling} reflect={reflect} {combination}:"
            f" NRMSE {error:.2e}"
        )
        assert error <= 0.01


@pytest.mark.parametrize("fmt", ["ve", "vb", "mrd"])
def test_partial_fourier_pocs_and_homodyne_beat_zero_filling(tmp_path: Path, fmt: str) -> None:
    settings = ScanSettings(dimension=2, matrix=(64, 64, 2), coils=4, partial_fourier=6 / 8)
    methods = {m: CartesianOptions(partial_fourier=m) for m in ("zero", "pocs", "homodyne")}
    errors = _errors(tmp_path, fmt, settings, methods)
    print(
        f"{fmt} 6/8 partial Fourier NRMSE: " + ", ".join(f"{k} {v:.4f}" for k, v in errors.items())
    )
    assert errors["pocs"] < errors["zero"]
    assert errors["homodyne"] < errors["zero"]
