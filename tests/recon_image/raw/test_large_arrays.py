from __future__ import annotations

import numpy as np

from recon_image.pipeline import fft
from recon_image.raw import large_arrays


def test_a_large_array_is_zeroed_writable_and_aligned_for_fftw_plans():
    data = large_arrays.zeros((2, 3, 16, 64))
    assert data.shape == (2, 3, 16, 64) and data.dtype == np.complex64
    assert not data.any()
    assert fft.is_aligned(data)
    plan = fft.plan((16, 64), (0, 1), "forward", 1)
    data[1, 2, 0, 0] = 1.0
    assert plan.fits(data[1, 2])  # the plan runs on it in place, not through its buffer
    assert np.allclose(plan.run(data[1, 2]), 1.0)


def test_an_empty_shape_gives_an_empty_array():
    assert large_arrays.zeros((0, 4)).shape == (0, 4)
