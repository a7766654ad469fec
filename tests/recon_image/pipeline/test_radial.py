"""Golden-angle radial: NUFFT operators and GRASP against per-frame gridding."""

from __future__ import annotations

import numpy as np
import pytest

from recon_image.errors import BadInput
from recon_image.pipeline import radial
from scripts.phantoms.numeric import nrmse
from scripts.phantoms.radial import simulate_radial


def test_the_frame_operator_and_its_adjoint_agree() -> None:
    rng = np.random.default_rng(1)
    maps = (rng.standard_normal((3, 32, 32)) + 1j * rng.standard_normal((3, 32, 32))).astype(
        np.complex64
    )
    operator = radial.FrameOperator(maps, radial.spoke_angles(7), 64)
    x = (rng.standard_normal((32, 32)) + 1j * rng.standard_normal((32, 32))).astype(np.complex64)
    y = (rng.standard_normal((3, 7 * 64)) + 1j * rng.standard_normal((3, 7 * 64))).astype(
        np.complex64
    )
    left = np.vdot(operator.forward(x), y)
    right = np.vdot(x, operator.adjoint(y))
    assert abs(left - right) <= 1e-4 * abs(left)


def test_golden_angle_spokes_cover_the_circle_evenly() -> None:
    angles = np.sort(radial.spoke_angles(21) % np.pi)
    gaps = np.diff(np.r_[angles, angles[0] + np.pi])
    assert gaps.max() / gaps.min() < 3.0


def test_grasp_beats_per_frame_gridding_on_a_dynamic_phantom() -> None:
    scan = simulate_radial(size=64, coils=6, frames=6, spokes_per_frame=13, noise_sigma=0.05)
    shape = (64, 64)
    options = radial.GraspOptions(spokes_per_frame=13, iterations=40)
    maps = radial.coil_maps_from_spokes(scan.spokes, scan.angles, shape, options.espirit)
    gridded = radial.gridding(scan.spokes, scan.angles, shape, 13, maps)

    frames = radial.grasp(scan.spokes, scan.angles, shape, options)

    zero = nrmse(gridded, scan.truth)
    error = nrmse(frames, scan.truth)
    print(f"\nGRASP, 13 spokes per frame: gridding NRMSE {zero:.4f}, GRASP {error:.4f}")
    assert frames.shape == scan.truth.shape
    assert error < zero / 2
    # the contrast uptake survives the temporal regularisation
    spot = (slice(28, 36), slice(40, 46))
    late, early = np.abs(frames[-1][spot]).mean(), np.abs(frames[0][spot]).mean()
    assert late > 1.2 * early


def test_too_few_spokes_for_one_frame_is_bad_input() -> None:
    with pytest.raises(BadInput, match="spokes per frame"):
        radial.frames_of(5, 13)
