from __future__ import annotations

import numpy as np
import pytest

from recon_image.errors import BadInput
from recon_image.pipeline.coils import compression_matrix, mix_coils, rss


def random_coils(shape, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def test_mixing_in_place_equals_the_matrix_product():
    data = random_coils((6, 3, 40, 50), seed=1)
    matrix = random_coils((6, 6), seed=2)
    expected = np.einsum("ij,j...->i...", matrix, data)
    result = mix_coils(matrix, data, out=data)
    assert result is data
    assert np.allclose(result, expected, atol=1e-4)


def test_rss_with_a_mixing_matrix_is_the_rss_of_the_mixed_coils():
    images = random_coils((5, 2, 70, 30), seed=3)
    matrix = random_coils((3, 5), seed=4)
    mixed = np.einsum("ij,j...->i...", matrix, images)
    assert np.allclose(rss(images, mixing=matrix), np.sqrt((np.abs(mixed) ** 2).sum(0)), rtol=1e-4)
    assert np.allclose(rss(images), np.sqrt((np.abs(images) ** 2).sum(0)), rtol=1e-5)


def test_rss_split_between_threads_is_the_rss_on_one():
    images = random_coils((64, 4, 25_001), seed=5)  # 64 coils: chunks of 32,768 pixels, four
    matrix = random_coils((64, 64), seed=6)
    one = rss(images, mixing=matrix)
    assert np.allclose(rss(images, mixing=matrix, threads=3), one, rtol=1e-5)
    assert np.allclose(rss(images, threads=3), rss(images), rtol=1e-6)


def test_compression_keeps_a_low_rank_signal_whole():
    rng = np.random.default_rng(5)
    signal = random_coils((3, 1000), seed=6)
    mixing = random_coils((16, 3), seed=7)
    samples = mixing @ signal + 1e-4 * rng.standard_normal((16, 1000))
    matrix = compression_matrix(samples.astype(np.complex64), 3)
    assert matrix.shape == (3, 16)
    kept = np.linalg.norm(matrix @ samples) / np.linalg.norm(samples)
    assert kept > 0.9999


def test_impossible_compression_is_refused():
    with pytest.raises(BadInput, match="between 1 and 4"):
        compression_matrix(random_coils((4, 100), seed=8), 6)
