"""L1-wavelet compressed sensing by FISTA: ``min 0.5 ||E x - y||^2 + lambda ||W x||_1``.

The step is 1 / L with L = 1, the norm of ``E^H E`` for maps whose root sum
of squares is at most 1 (ESPIRiT's and Walsh's are normalised so). The
regularisation is relative to the largest magnitude of the zero-filled image
``E^H y``, so one value suits data of any scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recon_image.pipeline.operators import SenseOperator, unshift
from recon_image.pipeline.wavelets import Wavelet


@dataclass(frozen=True)
class CompressedSensingOptions:
    """Iterations, L1 weight (relative to max |E^H y|), the wavelet and the shifts' seed.

    Each iteration thresholds the wavelet coefficients of the image circularly
    shifted by ``shifts`` random offsets and averages the results (cycle
    spinning), which removes the blocky artefacts of a fixed wavelet grid and,
    with two shifts, halves the variance the random offsets add to the
    reached error; the seed makes the shifts repeatable.
    """

    iterations: int = 30
    regularisation: float = 0.002
    wavelet: str = "haar"
    levels: int = 5
    shifts: int = 2
    seed: int = 0


def l1_wavelet(
    operator: SenseOperator,
    data: np.ndarray,
    options: CompressedSensingOptions = CompressedSensingOptions(),
) -> np.ndarray:
    """The complex image (rows, cols), centred, from shifted data (see ``shift_data``)."""
    rhs = operator.adjoint(data)
    wavelet = Wavelet(operator.shape, options.wavelet, options.levels)
    threshold = options.regularisation * float(np.abs(rhs).max())
    x = np.zeros_like(rhs)
    z = x.copy()
    gradient = np.empty_like(rhs)
    t = 1.0
    rng = np.random.default_rng(options.seed)
    block = 2**wavelet.levels
    shifts = max(1, options.shifts)
    for _ in range(options.iterations):
        operator.normal(z, out=gradient)
        gradient -= rhs
        z -= gradient
        # the image lives in shifted coordinates; the wavelet sees it shifted at random
        shrunk = np.zeros_like(z)
        for offset in rng.integers(0, block, size=(shifts, 2)):
            spun = np.roll(z, tuple(offset), axis=(0, 1))
            shrunk += np.roll(wavelet.shrink(spun, threshold), tuple(-offset), axis=(0, 1))
        if shifts > 1:
            shrunk *= np.float32(1.0 / shifts)
        t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        momentum = np.float32((t - 1.0) / t_next)
        np.subtract(shrunk, x, out=z)
        z *= momentum
        z += shrunk
        x = shrunk
        t = t_next
    return unshift(x)
