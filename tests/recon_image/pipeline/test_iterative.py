"""ESPIRiT, CG-SENSE and L1-wavelet compressed sensing against the truth, zero-filling and BART."""

from __future__ import annotations

import numpy as np
import pytest

from recon_image.errors import BadInput
from recon_image.pipeline.compressed_sensing import CompressedSensingOptions, l1_wavelet
from recon_image.pipeline.iterative import IterativeOptions, reconstruct
from recon_image.pipeline.operators import SenseOperator
from recon_image.pipeline.sense import SenseOptions, cg_sense
from recon_image.pipeline.sensitivities import EspiritOptions, espirit, walsh
from scripts.phantoms import bart
from scripts.phantoms.numeric import coil_maps, nrmse, shepp_logan, to_kspace
from tests.helpers.unavailable import require_command
from tests.recon_image.pipeline.undersampled import undersampled, zero_filled


@pytest.fixture
def bart_installed() -> None:
    require_command("bart", "bart")


SIZE, COILS = 96, 8


@pytest.fixture(scope="module")
def phantom() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(truth, true maps, noisy fully sampled k-space) of one 2D slice."""
    truth = shepp_logan((1, SIZE, SIZE))[0]
    maps = coil_maps(COILS, (1, SIZE, SIZE), seed=4)[:, 0]
    kspace = to_kspace(maps * truth, (1, 2))
    rng = np.random.default_rng(4)
    noise = rng.standard_normal((*kspace.shape, 2), dtype=np.float32) * np.float32(0.3)
    return truth, maps, kspace + noise.view(np.complex64)[..., 0]


def lattice(acceleration: int, reference: int = 24) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[SIZE // 2 % acceleration :: acceleration] = True
    mask[SIZE // 2 - reference // 2 : SIZE // 2 + reference // 2] = True
    return mask


def test_espirit_finds_the_coil_sensitivities(phantom) -> None:
    truth, maps, kspace = phantom
    found = espirit(kspace[:, SIZE // 2 - 12 : SIZE // 2 + 12], (SIZE, SIZE))
    inside = truth > 0
    agreement = np.abs(np.sum(found.conj() * maps, axis=0))[inside]
    assert agreement.min() > 0.98
    rss = np.sqrt(np.sum(np.abs(found) ** 2, axis=0))
    np.testing.assert_allclose(rss[inside], 1.0, atol=1e-4)
    assert rss[0, 0] == 0.0  # outside the object: no sensitivity


def test_espirit_on_a_coarse_grid_gives_the_maps_of_every_pixel(phantom) -> None:
    truth, _, kspace = phantom
    calibration = kspace[:, SIZE // 2 - 12 : SIZE // 2 + 12]
    every_pixel = espirit(calibration, (SIZE, SIZE), EspiritOptions(grid=1))
    inside = truth > 0
    for grid in (2, 4):
        coarse = espirit(calibration, (SIZE, SIZE), EspiritOptions(grid=grid))
        agreement = np.abs(np.sum(coarse.conj() * every_pixel, axis=0))[inside]
        assert agreement.min() > 0.99, grid
        rss = np.sqrt(np.sum(np.abs(coarse) ** 2, axis=0))
        np.testing.assert_allclose(rss[inside], 1.0, atol=1e-4)
        assert rss[0, 0] == 0.0
        # the phase convention is kept: relative to the first coil
        assert np.all(np.abs(coarse[0].imag[inside]) < 1e-4)


@pytest.mark.parametrize("grid", [1, 4])
def test_espirit_of_a_block_without_signal_is_zero_not_nan(grid: int) -> None:
    # e.g. a readout position of a 3D volume outside the object
    empty = np.zeros((COILS, 24, 24), dtype=np.complex64)
    with np.errstate(all="raise"):
        maps = espirit(empty, (SIZE, SIZE), EspiritOptions(grid=grid))
    assert maps.shape == (COILS, SIZE, SIZE)
    assert not np.any(maps)


@pytest.mark.usefixtures("bart_installed")
def test_espirit_agrees_with_bart_ecalib(phantom) -> None:
    truth, _, kspace = phantom
    calibration = kspace[:, SIZE // 2 - 12 : SIZE // 2 + 12]
    ours = espirit(calibration, (SIZE, SIZE))
    theirs = bart.ecalib(calibration, (SIZE, SIZE))
    agreement = np.abs(np.sum(ours.conj() * theirs, axis=0))[truth > 0]
    assert agreement.mean() > 0.99


@pytest.mark.usefixtures("bart_installed")
@pytest.mark.parametrize("acceleration", [2, 4])
def test_sense_and_cs_are_no_worse_than_bart_pics(phantom, acceleration: int) -> None:
    truth, _, kspace = phantom
    maps = espirit(kspace[:, SIZE // 2 - 12 : SIZE // 2 + 12], (SIZE, SIZE))
    mask = lattice(acceleration)
    operator = SenseOperator(maps, mask)
    # one scale for everyone: the zero-filled image peaks at 1
    scale = 1.0 / float(np.abs(operator.adjoint(operator.shift_data(kspace))).max())
    measured = (kspace * mask * np.float32(scale / SIZE)).astype(np.complex64)
    data = operator.shift_data(kspace * np.float32(scale))
    zero = nrmse(operator.zero_filled(data), truth)

    sense = nrmse(cg_sense(operator, data, SenseOptions(iterations=15, regularisation=1e-3)), truth)
    bart_sense = bart.pics(measured, maps, ["-l2", "-r", "0.001", "-i", "15"])
    cs_options = CompressedSensingOptions(iterations=40, regularisation=0.002)
    cs = nrmse(l1_wavelet(operator, data, cs_options), truth)
    bart_cs = bart.pics(measured, maps, ["-R", "W:3:0:0.002", "--wavelet", "haar", "-i", "40"])
    bart_sense_error = nrmse(bart_sense.image, truth)
    bart_cs_error = nrmse(bart_cs.image, truth)

    print(
        f"\nR={acceleration}: NRMSE zero-filled {zero:.4f}; SENSE ours {sense:.4f} BART"
        f" {bart_sense_error:.4f}; CS ours {cs:.4f} BART {bart_cs_error:.4f}"
    )
    assert sense < zero and cs < zero
    assert sense <= bart_sense_error * 1.01
    assert cs <= bart_cs_error


@pytest.mark.parametrize("method", ["sense", "cs"])
@pytest.mark.parametrize(
    ("dimension", "acceleration", "reference"),
    [
        (2, (2, 1), "integrated"),
        (2, (4, 1), "separate"),
        (2, (8, 1), "separate"),
        (3, (2, 2), "separate"),
        (3, (4, 2), "separate"),
    ],
)
def test_iterative_reconstructions_beat_zero_filling(
    method: str, dimension: int, acceleration: tuple[int, int], reference: str
) -> None:
    scan, kspace = undersampled(
        dimension=dimension,
        matrix=(48, 48, 16 if dimension == 3 else 2),
        coils=8,
        acceleration=acceleration,
        reference_lines=(24, 12 if dimension == 3 else 0),
        reference=reference,
        noise_sigma=0.1,
        noise_scans=16,
        seed=8,
    )
    zero = nrmse(zero_filled(kspace)[0], scan.truth)

    image = reconstruct(kspace, IterativeOptions(method=method), threads=2)  # type: ignore[arg-type]
    error = nrmse(image[0], scan.truth)

    print(f"\n{method} {dimension}D R={acceleration}: zero-filled {zero:.4f}, {error:.4f}")
    assert image.shape == (1, *scan.truth.shape)
    # Eight coils leave little to unfold at R=8: there, beating zero-filling clearly is the bar.
    total = acceleration[0] * acceleration[1]
    assert error < zero * (0.5 if total <= 4 else 0.8)


def test_sense_with_walsh_sensitivities_beats_zero_filling() -> None:
    scan, kspace = undersampled(
        dimension=2, matrix=(48, 48, 1), coils=8, acceleration=(3, 1), reference_lines=(24, 0)
    )
    zero = nrmse(zero_filled(kspace)[0], scan.truth)
    image = reconstruct(kspace, IterativeOptions(method="sense", sensitivities="walsh"))
    error = nrmse(image[0], scan.truth)
    print(f"\nSENSE with Walsh maps, R=3: zero-filled {zero:.4f}, {error:.4f}")
    assert error < zero / 3


def test_walsh_finds_the_coil_sensitivities(phantom) -> None:
    truth, maps, kspace = phantom
    found = walsh(kspace[:, SIZE // 2 - 12 : SIZE // 2 + 12], (SIZE, SIZE))
    agreement = np.abs(np.sum(found.conj() * maps, axis=0))[truth > 0]
    assert agreement.mean() > 0.99


def test_coil_compression_before_sense_costs_little_accuracy() -> None:
    settings = {
        "dimension": 2,
        "matrix": (48, 48, 1),
        "coils": 8,
        "acceleration": (2, 1),
        "reference_lines": (24, 0),
    }
    scan, kspace = undersampled(**settings)
    full = nrmse(reconstruct(kspace, IterativeOptions(method="sense"))[0], scan.truth)
    _, kspace = undersampled(**settings)
    compressed = reconstruct(kspace, IterativeOptions(method="sense", coil_compression=6))
    error = nrmse(compressed[0], scan.truth)
    print(f"\nSENSE 8 coils {full:.4f}, compressed to 6 {error:.4f}")
    assert error < 4 * full


def test_undersampled_data_without_reference_lines_is_bad_input() -> None:
    _, kspace = undersampled(
        dimension=2, matrix=(32, 32, 1), coils=4, acceleration=(2, 1), reference_lines=(16, 0)
    )
    kspace.reference = None
    with pytest.raises(BadInput, match="no reference"):
        reconstruct(kspace, IterativeOptions())
