from __future__ import annotations

import numpy as np
import pytest

from recon_image.errors import EXIT_BAD_INPUT, BadInput
from recon_image.pipeline.cartesian import CartesianOptions, reconstruct
from recon_image.raw.kspace import KSpace
from scripts.phantoms.numeric import nrmse
from tests.recon_image.pipeline.phantom import phantom_kspace

CASES = {2: (4, 64, 64), 3: (16, 64, 64)}


@pytest.mark.parametrize("combination", ["rss", "adaptive"])
@pytest.mark.parametrize("oversampling", [1, 2])
@pytest.mark.parametrize("dimension", [2, 3])
def test_fully_sampled_phantom_reconstructs_within_one_percent(
    dimension, oversampling, combination
):
    kspace, truth = phantom_kspace(dimension, CASES[dimension], 8, oversampling=oversampling)
    image = reconstruct(kspace, CartesianOptions(coil_combination=combination))
    error = nrmse(image[0], truth)
    print(f"{dimension}D oversampling {oversampling} {combination}: NRMSE {error:.5f}")
    assert image.shape == (1, *CASES[dimension])
    assert image.dtype == np.float32
    assert error <= 0.01


def test_rss_keeps_the_phantoms_scale():
    kspace, truth = phantom_kspace(2, CASES[2], 8, oversampling=2)
    image = reconstruct(kspace, CartesianOptions())[0]
    assert np.allclose(image, np.abs(truth), atol=1e-4)


def test_reflected_readouts_are_not_special_once_sorted():
    """Readers reverse reflected lines; the reversed data reconstruct like any other."""
    kspace, truth = phantom_kspace(2, CASES[2], 8, oversampling=2)
    reflected = kspace.data[:, :, :, 1::2, ::-1].copy()
    kspace.data[:, :, :, 1::2, :] = reflected[..., ::-1]
    assert nrmse(reconstruct(kspace, CartesianOptions())[0], truth) <= 0.01


def test_every_volume_is_reconstructed():
    first, _truth = phantom_kspace(2, CASES[2], 4)
    data = np.concatenate([first.data, 2 * first.data])
    kspace = KSpace(data=data, sampled=first.sampled, noise=None, protocol=first.protocol)
    image = reconstruct(kspace, CartesianOptions())
    assert image.shape == (2, *CASES[2])
    assert np.allclose(image[1], 2 * image[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dimension", [2, 3])
def test_coil_compression_32_to_12_stays_within_two_percent(dimension):
    full, _truth = phantom_kspace(dimension, CASES[dimension], 32, oversampling=2)
    compressed, _ = phantom_kspace(dimension, CASES[dimension], 32, oversampling=2)
    reference = reconstruct(full, CartesianOptions())[0]
    image = reconstruct(compressed, CartesianOptions(coil_compression=12))[0]
    difference = nrmse(image, reference)
    print(f"{dimension}D 32 -> 12 virtual coils: difference from uncompressed {difference:.4f}")
    assert difference < 0.02


@pytest.mark.parametrize(
    ("dimension", "threads", "slices"),
    [(3, 2, CASES[3][0]), (2, 3, 11)],  # 2D: a slice group of 8 and one of 3; 8 coils over 3
)
def test_coils_transformed_side_by_side_give_the_same_image_as_one_thread(
    dimension, threads, slices
):
    shape = (slices, *CASES[dimension][1:])
    one, _ = phantom_kspace(dimension, shape, 8, oversampling=2)
    many, _ = phantom_kspace(dimension, shape, 8, oversampling=2)
    single = reconstruct(one, CartesianOptions(), threads=1)
    side_by_side = reconstruct(many, CartesianOptions(), threads=threads)
    difference = np.abs(single - side_by_side).max() / single.max()
    print(
        f"{dimension}D threads 1 vs {threads}: largest difference {difference:.1e} of the maximum"
    )
    assert difference < 1e-5


def test_zero_channels_fail_with_a_reason_and_no_retry():
    kspace, _ = phantom_kspace(2, CASES[2], 4)
    kspace.data = kspace.data[:, :0]
    with pytest.raises(BadInput, match="no receive channels") as raised:
        reconstruct(kspace, CartesianOptions())
    assert raised.value.exit_code == EXIT_BAD_INPUT


def test_parallel_imaging_data_is_refused_not_aliased():
    kspace, _ = phantom_kspace(2, CASES[2], 4)
    accelerated = kspace.protocol.__class__(**{**vars(kspace.protocol), "acceleration": (2, 1)})
    kspace.protocol = accelerated
    with pytest.raises(BadInput, match="parallel-imaging mode"):
        reconstruct(kspace, CartesianOptions())


def test_a_matrix_that_does_not_fit_the_data_is_refused():
    kspace, _ = phantom_kspace(2, CASES[2], 4)
    kspace.protocol = kspace.protocol.__class__(**{**vars(kspace.protocol), "matrix": (64, 96, 1)})
    with pytest.raises(BadInput, match="does not fit"):
        reconstruct(kspace, CartesianOptions())
