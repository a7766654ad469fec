from __future__ import annotations

import numpy as np
import pytest

from recon_image.errors import BadInput
from recon_image.pipeline.cartesian import CartesianOptions, reconstruct
from recon_image.pipeline.partial_fourier import reconstruct_lines
from scripts.phantoms.numeric import nrmse
from tests.recon_image.pipeline.phantom import phantom_kspace

CASES = {2: (4, 64, 64), 3: (16, 64, 64)}


def six_eighths(dimension: int, side: str, oversampling: int):
    """6/8 partial Fourier: the first (or last) quarter of the lines is never acquired."""
    kspace, truth = phantom_kspace(dimension, CASES[dimension], 8, oversampling=oversampling)
    lines = kspace.data.shape[3]
    missing = slice(0, lines // 4) if side == "low" else slice(lines - lines // 4, lines)
    kspace.data[:, :, :, missing] = 0
    kspace.sampled[:, missing] = False
    return kspace, truth


@pytest.mark.parametrize("side", ["low", "high"])
@pytest.mark.parametrize("oversampling", [1, 2])
@pytest.mark.parametrize("dimension", [2, 3])
def test_pocs_and_homodyne_beat_zero_filling_at_six_eighths(dimension, oversampling, side):
    errors = {}
    for method in ("zero", "pocs", "homodyne"):
        kspace, truth = six_eighths(dimension, side, oversampling)
        image = reconstruct(kspace, CartesianOptions(partial_fourier=method))
        errors[method] = nrmse(image[0], truth)
    figures = ", ".join(f"{m} {e:.4f}" for m, e in errors.items())
    print(f"{dimension}D oversampling {oversampling}, {side} lines missing: NRMSE {figures}")
    assert errors["pocs"] < errors["zero"]
    assert errors["homodyne"] < errors["zero"]


def test_fully_sampled_data_needs_no_partial_fourier_method():
    kspace, truth = phantom_kspace(2, CASES[2], 4)
    image = reconstruct(kspace, CartesianOptions(partial_fourier="pocs"))
    assert nrmse(image[0], truth) <= 0.01


def test_a_missing_k_space_centre_is_refused_with_a_reason():
    data = np.ones((2, 16, 8), dtype=np.complex64)
    sampled = np.zeros((2, 16), dtype=bool)
    sampled[:, :6] = True
    with pytest.raises(BadInput, match="centre of k-space was not acquired"):
        reconstruct_lines(data, sampled, "pocs")
