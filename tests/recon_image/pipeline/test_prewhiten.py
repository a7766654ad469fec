from __future__ import annotations

import numpy as np
import pytest

from recon_image.errors import BadInput
from recon_image.pipeline.cartesian import CartesianOptions, reconstruct
from recon_image.pipeline.prewhiten import noise_covariance, prewhiten, whitening_matrix
from scripts.phantoms.numeric import coil_maps, nrmse
from tests.recon_image.pipeline.phantom import phantom_kspace


def correlated_noise(coils: int, samples: int, seed: int) -> np.ndarray:
    """Noise with neighbouring channels correlated (0.4^distance) and unequal levels."""
    rng = np.random.default_rng(seed)
    distance = np.abs(np.subtract.outer(np.arange(coils), np.arange(coils)))
    levels = np.linspace(0.8, 1.5, coils)
    covariance = 0.4**distance * np.outer(levels, levels)
    mixing = np.linalg.cholesky(covariance)
    white = rng.standard_normal((coils, samples)) + 1j * rng.standard_normal((coils, samples))
    return (mixing @ white / np.sqrt(2)).astype(np.complex64)


def test_whitened_noise_has_identity_covariance():
    noise = correlated_noise(8, 20000, seed=3)
    before = noise_covariance(noise)
    matrix = whitening_matrix(noise)
    after = noise_covariance(prewhiten(noise.copy(), matrix))
    off_before = np.abs(before - np.diag(np.diag(before))).max()
    deviation = np.abs(after - np.eye(8)).max()
    print(f"largest off-diagonal before {off_before:.3f}; |cov - I| after {deviation:.2e}")
    assert off_before > 0.3
    assert deviation < 1e-3


def test_other_noise_is_whitened_too():
    calibration = correlated_noise(8, 20000, seed=4)
    fresh = correlated_noise(8, 20000, seed=5)
    after = noise_covariance(prewhiten(fresh, whitening_matrix(calibration)))
    deviation = np.abs(after - np.eye(8)).max()
    print(f"independent noise after whitening: |cov - I| = {deviation:.3f}")
    assert deviation < 0.05


@pytest.mark.parametrize("combination", ["rss", "adaptive"])
def test_prewhitening_independent_equal_channels_leaves_a_noise_free_image_unchanged(combination):
    rng = np.random.default_rng(6)
    noise = (rng.standard_normal((8, 40000)) + 1j * rng.standard_normal((8, 40000))).astype(
        np.complex64
    )
    plain, truth = phantom_kspace(2, (4, 64, 64), 8, oversampling=2)
    whitened, _ = phantom_kspace(2, (4, 64, 64), 8, oversampling=2, noise=noise)
    options = CartesianOptions(coil_combination=combination)
    without = nrmse(reconstruct(plain, options)[0], truth)
    with_ = nrmse(reconstruct(whitened, options)[0], truth)
    print(f"{combination}: NRMSE without prewhitening {without:.4f}, with {with_:.4f}")
    assert with_ <= 0.01


@pytest.mark.parametrize("combination", ["rss", "adaptive"])
def test_prewhitening_correlated_channels_weights_the_image_by_noise_normalised_sensitivity(
    combination,
):
    """With correlated channels the combined image is |x| * ||W s(r)||: the SNR-optimal
    weighting, smooth across the image, exactly as the noise statistics dictate."""
    noise = correlated_noise(8, 4000, seed=6)
    kspace, truth = phantom_kspace(2, (4, 64, 64), 8, oversampling=2, noise=noise)
    maps = coil_maps(8, (4, 64, 128), 0)[..., 32:96]
    matrix = whitening_matrix(noise)
    gain = np.linalg.norm(np.einsum("ij,j...->i...", matrix, maps), axis=0)
    image = reconstruct(kspace, CartesianOptions(coil_combination=combination))[0]
    against_truth = nrmse(image, truth)
    against_weighted = nrmse(image, truth * gain)
    print(
        f"{combination}: NRMSE against the phantom {against_truth:.4f}, "
        f"against the phantom weighted by ||W s|| {against_weighted:.4f}"
    )
    assert against_weighted <= 0.01


def test_a_dead_channel_is_refused_with_a_reason():
    noise = correlated_noise(4, 1000, seed=7)
    noise[2] = 0
    with pytest.raises(BadInput, match="singular"):
        whitening_matrix(noise)
