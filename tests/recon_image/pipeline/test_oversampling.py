from __future__ import annotations

import numpy as np

from recon_image.pipeline.oversampling import crop_wrapped, remove_oversampling
from scripts.phantoms.numeric import oversample, shepp_logan, to_kspace


def test_removing_oversampling_returns_the_prescribed_field_of_view():
    truth = shepp_logan((2, 32, 32)).astype(np.complex64)
    kspace = to_kspace(oversample(truth, 2), (2,))
    image = remove_oversampling(kspace, 32)
    assert image.shape == (2, 32, 32)
    assert np.allclose(image, truth, atol=1e-5)


def test_wrapped_crop_is_the_centred_crop_after_a_shift():
    rng = np.random.default_rng(1)
    wide = (rng.standard_normal((3, 40)) + 1j * rng.standard_normal((3, 40))).astype(np.complex64)
    centred = np.fft.fftshift(wide, axes=-1)
    expected = centred[:, 20 - 7 : 20 - 7 + 15]
    out = np.empty((3, 15), dtype=np.complex64)
    assert np.array_equal(np.fft.fftshift(crop_wrapped(wide, out), axes=-1), expected)


def test_crop_into_the_start_of_its_own_memory_matches_a_crop_into_fresh_memory():
    # the pipeline crops each coil's image into the first half of its k-space; 2D slice
    # groups after the first land further in, over groups already transformed
    rng = np.random.default_rng(2)
    z, lines, wide, narrow = 6, 33, 64, 32
    for first in (0, 2, 4):
        memory = (rng.standard_normal((z, lines, wide)) * (1 + 1j)).astype(np.complex64)
        source = memory[first:]
        expected = crop_wrapped(source.copy(), np.empty((z - first, lines, narrow), np.complex64))
        flat = memory.reshape(-1)
        start = first * lines * narrow
        out = flat[start : start + source.size // 2].reshape(z - first, lines, narrow)
        assert np.array_equal(crop_wrapped(source, out), expected)
