"""Golden-angle radial imaging: NUFFT operators (finufft), gridding and a GRASP reconstruction.

Spoke ``s`` of a golden-angle acquisition has the angle ``s * 111.246...°``, so
any run of consecutive spokes covers k-space nearly uniformly and the spokes
can be grouped into time frames after the scan. GRASP (Feng et al., MRM 2014)
reconstructs all frames at once, each from its few spokes, by

    min_x  1/2 sum_t ||W^(1/2) (N_t S x_t - y_t)||^2 + lambda ||D_t x||_1

with coil sensitivities ``S``, the frame's NUFFT ``N_t``, the density
compensation ``W`` and the temporal finite difference ``D_t`` (total
variation along time). It is solved here by the primal-dual method of Condat
and Vu: gradient steps on the data term, the proximal step of the L1 term on
its dual (a clip), no inner solves. The coil sensitivities are ESPIRiT maps
from the centre of k-space gridded from every spoke.

Conventions: images are (rows, cols) with the centre at index n // 2, as
everywhere in the pipeline; k-space positions are in radians per pixel, in
[-pi, pi); readouts have ``samples`` points from -pi to pi (exclusive).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import finufft
import numpy as np

from recon_image.errors import BadInput
from recon_image.pipeline.sensitivities import EspiritOptions, espirit
from recon_image.pipeline.threads import thread_pool

GOLDEN_ANGLE = math.pi * (math.sqrt(5.0) - 1.0) / 2.0  # 111.246...° in radians
_EPS = 1e-5


def spoke_angles(spokes: int, first: int = 0) -> np.ndarray:
    """Golden-angle directions (radians) of spokes ``first`` .. ``first + spokes - 1``."""
    return (np.arange(first, first + spokes) * GOLDEN_ANGLE) % (2 * math.pi)


def trajectory(angles: np.ndarray, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(kx, ky) of every sample, (spokes * samples,) each, radians per pixel."""
    radius = (np.arange(samples) - samples // 2) * (2 * math.pi / samples)
    kx = np.outer(np.cos(angles), radius).ravel()
    ky = np.outer(np.sin(angles), radius).ravel()
    return kx, ky


def ramp(samples: int, spokes: int) -> np.ndarray:
    """Density compensation of radial spokes: |k| with the centre's share, (samples,)."""
    radius = np.abs(np.arange(samples) - samples // 2).astype(np.float64)
    radius[samples // 2] = 0.25
    return (radius * math.pi / (spokes * samples) * 2).astype(np.float32)


class FrameOperator:
    """``A x = W^(1/2) N (S x)`` of one frame's spokes, coils batched through one finufft plan.

    Parameters
    ----------
    maps
        (coils, rows, cols) sensitivities (all ones, one coil, for plain gridding).
    angles
        The frame's spoke angles.
    samples
        Readout points per spoke.
    threads
        finufft threads of this operator's plans.
    """

    def __init__(
        self, maps: np.ndarray, angles: np.ndarray, samples: int, *, threads: int = 1
    ) -> None:
        self.maps = np.ascontiguousarray(maps, dtype=np.complex64)
        self.conj_maps = self.maps.conj()
        coils, rows, cols = maps.shape
        self.shape = (rows, cols)
        kx, ky = trajectory(angles, samples)
        # finufft's first coordinate runs along the first (row) axis of the modes
        self.weight = np.tile(np.sqrt(ramp(samples, angles.size)), angles.size)
        options = {"nthreads": threads, "modeord": 0}
        self.forward_plan = finufft.Plan(2, (rows, cols), coils, _EPS, -1, "complex64", **options)
        self.adjoint_plan = finufft.Plan(1, (rows, cols), coils, _EPS, 1, "complex64", **options)
        for plan in (self.forward_plan, self.adjoint_plan):
            plan.setpts(ky.astype(np.float32), kx.astype(np.float32))
        self.points = kx.size

    def forward(self, image: np.ndarray) -> np.ndarray:
        """(coils, points): the weighted k-space samples of ``image``."""
        coil_images = self.maps * image
        samples = self.forward_plan.execute(coil_images)
        samples *= self.weight
        return samples

    def adjoint(self, samples: np.ndarray) -> np.ndarray:
        """(rows, cols): the coil-combined weighted adjoint of (coils, points) samples."""
        weighted = samples * self.weight
        images = self.adjoint_plan.execute(weighted)
        return np.einsum("crx,crx->rx", self.conj_maps, images)

    def weigh(self, samples: np.ndarray) -> np.ndarray:
        """Measured samples (coils, points) times ``W^(1/2)``, the data ``y`` of the problem."""
        return (samples * self.weight).astype(np.complex64)


@dataclass(frozen=True)
class GraspOptions:
    """Spokes per frame, iterations, temporal-TV weight (relative to max |A^H y|)."""

    spokes_per_frame: int = 13
    iterations: int = 60
    regularisation: float = 0.1
    espirit: EspiritOptions = field(default_factory=lambda: EspiritOptions(crop=0.5))


def coil_maps_from_spokes(
    spokes: np.ndarray, angles: np.ndarray, shape: tuple[int, int], options: EspiritOptions
) -> np.ndarray:
    """ESPIRiT maps from the gridded centre of all spokes (coils, spokes, samples)."""
    coils, _, samples = spokes.shape
    gridding = FrameOperator(np.ones((coils, *shape), dtype=np.complex64), angles, samples)
    data = spokes.reshape(coils, -1) * gridding.weight**2
    images = gridding.adjoint_plan.execute(np.ascontiguousarray(data, dtype=np.complex64))
    kspace = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(images, axes=(1, 2))), axes=(1, 2))
    size = options.calibration
    top, left = shape[0] // 2 - size // 2, shape[1] // 2 - size // 2
    return espirit(kspace[:, top : top + size, left : left + size], shape, options)


def frames_of(spokes: int, per_frame: int) -> list[slice]:
    """Consecutive groups of ``per_frame`` spokes (a last, incomplete one dropped)."""
    if per_frame < 1 or spokes < per_frame:
        raise BadInput(
            f"{spokes} spokes cannot make frames of {per_frame} spokes; choose fewer spokes per"
            " frame"
        )
    return [slice(s, s + per_frame) for s in range(0, spokes - per_frame + 1, per_frame)]


def gridding(
    spokes: np.ndarray, angles: np.ndarray, shape: tuple[int, int], per_frame: int, maps: np.ndarray
) -> np.ndarray:
    """Per-frame density-compensated adjoint NUFFT, coil-combined with ``maps``: (frames, ...)."""
    samples = spokes.shape[2]
    out = []
    for frame in frames_of(spokes.shape[1], per_frame):
        operator = FrameOperator(maps, angles[frame], samples)
        data = operator.weigh(spokes[:, frame].reshape(spokes.shape[0], -1))
        out.append(operator.adjoint(data))
    return np.stack(out)


def grasp(
    spokes: np.ndarray,
    angles: np.ndarray,
    shape: tuple[int, int],
    options: GraspOptions = GraspOptions(),
    *,
    threads: int = 1,
) -> np.ndarray:
    """Complex frames (frames, rows, cols) from golden-angle spokes (coils, spokes, samples)."""
    coils, count, samples = spokes.shape
    maps = coil_maps_from_spokes(spokes, angles, shape, options.espirit)
    frames = frames_of(count, options.spokes_per_frame)
    # one finufft thread per plan; the frames run in parallel instead (finufft's own
    # threads cost more than they give on transforms this small)
    operators = [FrameOperator(maps, angles[f], samples) for f in frames]
    data = [
        op.weigh(spokes[:, f].reshape(coils, -1)) for op, f in zip(operators, frames, strict=True)
    ]
    rhs = np.stack([op.adjoint(y) for op, y in zip(operators, data, strict=True)])
    lipschitz = _norm_estimate(operators, shape)
    lam = options.regularisation * float(np.abs(rhs).max())
    # Condat-Vu step sizes: 1 / tau - sigma ||D||^2 >= L / 2 with ||D||^2 <= 4
    tau = 1.0 / lipschitz
    sigma = lipschitz / 8.0
    x = np.zeros_like(rhs)
    dual = np.zeros_like(rhs[:-1])
    with thread_pool(threads) as pool:
        for _ in range(options.iterations):
            gradient = _normal(operators, x, pool) - rhs
            gradient += _difference_adjoint(dual)
            previous = x
            x = x - np.complex64(tau) * gradient
            dual += np.complex64(sigma) * np.diff(2 * x - previous, axis=0)
            _clip(dual, lam)
    return x


def _normal(operators: list[FrameOperator], x: np.ndarray, pool: ThreadPoolExecutor) -> np.ndarray:
    def one(index: int) -> np.ndarray:
        return operators[index].adjoint(operators[index].forward(x[index]))

    return np.stack(list(pool.map(one, range(len(operators)))))


def _difference_adjoint(dual: np.ndarray) -> np.ndarray:
    """``D^H p`` of the temporal forward difference ``D x = x[1:] - x[:-1]``."""
    out = np.zeros((dual.shape[0] + 1, *dual.shape[1:]), dtype=dual.dtype)
    out[:-1] -= dual
    out[1:] += dual
    return out


def _clip(dual: np.ndarray, bound: float) -> None:
    """Project complex ``dual`` onto magnitudes at most ``bound``, in place."""
    magnitude = np.abs(dual)
    over = magnitude > bound
    dual[over] *= (bound / magnitude[over]).astype(np.float32)


def _norm_estimate(operators: list[FrameOperator], shape: tuple[int, int]) -> float:
    """The largest eigenvalue of the frames' normal operators, by power iteration."""
    rng = np.random.default_rng(0)
    largest = 0.0
    for operator in operators[:2]:
        x = rng.standard_normal(shape).astype(np.complex64)
        value = 0.0
        for _ in range(15):
            y = operator.adjoint(operator.forward(x))
            value = float(np.linalg.norm(y))
            x = (y / max(value, 1e-30)).astype(np.complex64)
        largest = max(largest, value)
    return 1.05 * largest
