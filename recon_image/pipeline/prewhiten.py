"""Noise prewhitening: decorrelate the receive channels and give each unit noise variance.

From the noise-adjustment scans (no RF, receivers only) the noise covariance
``Psi = n n^H / samples`` is estimated; with its Cholesky factor ``Psi = L L^H``
the whitening matrix is ``W = L^-1``, and ``W @ data`` has identity noise
covariance. Applying it is one matrix product over the coil axis, done in
cache-sized chunks so that memory stays at the size of the data.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from recon_image.errors import BadInput
from recon_image.pipeline.coils import mix_coils


def noise_covariance(noise: np.ndarray) -> np.ndarray:
    """Sample covariance (coils, coils), complex128, of noise samples (coils, samples)."""
    if noise.ndim != 2 or noise.shape[1] == 0:
        raise BadInput(
            f"the noise-adjustment scans hold no usable samples (shape {noise.shape}); "
            "reconstruct without prewhitening or re-export the measurement with its noise scans"
        )
    samples = noise.astype(np.complex128)
    with threadpool_limits(limits=1, user_api="blas"):
        # coils x coils from a few thousand samples: one thread's work. Threads of its own
        # would spin waiting for each other, 0.4 to 1.4 s where cores are shared.
        return (samples @ samples.conj().T) / samples.shape[1]


def whitening_matrix(noise: np.ndarray) -> np.ndarray:
    """The (coils, coils) complex64 matrix ``L^-1`` that whitens data with this noise.

    Raises
    ------
    BadInput
        When the covariance is not positive definite: a dead channel, or fewer
        noise samples than channels.
    """
    covariance = noise_covariance(noise)
    coils = covariance.shape[0]
    if noise.shape[1] < coils:
        raise BadInput(
            f"{noise.shape[1]} noise samples cannot describe {coils} receive channels; "
            "reconstruct without prewhitening"
        )
    try:
        lower = np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        raise BadInput(
            "the noise covariance is singular (a dead or duplicated receive channel); "
            "reconstruct without prewhitening or exclude the channel"
        ) from None
    inverse = np.linalg.solve(lower, np.eye(coils, dtype=np.complex128))
    return inverse.astype(np.complex64)


def prewhiten(data: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Whiten ``data`` (coils, ...) in place with ``matrix`` and return it."""
    return mix_coils(matrix, data, out=data)
