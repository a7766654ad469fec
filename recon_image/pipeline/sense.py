"""CG-SENSE: conjugate gradients on the normal equations ``(E^H E + lambda I) x = E^H y``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recon_image.pipeline.operators import SenseOperator, unshift


@dataclass(frozen=True)
class SenseOptions:
    """Iterations and Tikhonov regularisation (relative to the operator's norm, at most 1)."""

    iterations: int = 15
    regularisation: float = 1e-3
    tolerance: float = 1e-6


def cg_sense(
    operator: SenseOperator, data: np.ndarray, options: SenseOptions = SenseOptions()
) -> np.ndarray:
    """The complex image (rows, cols), centred, from shifted data (see ``shift_data``)."""
    rhs = operator.adjoint(data)
    x = np.zeros_like(rhs)
    r = rhs.copy()
    p = r.copy()
    q = np.empty_like(rhs)
    rr = float(np.vdot(r, r).real)
    stop = options.tolerance**2 * rr
    lam = np.float32(options.regularisation)
    for _ in range(options.iterations):
        if rr <= stop or rr == 0.0:
            break
        operator.normal(p, out=q)
        if lam:
            q += lam * p
        alpha = rr / float(np.vdot(p, q).real)
        x += np.complex64(alpha) * p
        r -= np.complex64(alpha) * q
        new = float(np.vdot(r, r).real)
        p *= np.complex64(new / rr)
        p += r
        rr = new
    return unshift(x)
