"""Partial Fourier along the phase-encoding axis: zero-filling, POCS and homodyne.

A partial Fourier acquisition skips lines on one side of k-space. Zero-filling
keeps the resolution but blurs; POCS and homodyne use the fact that a real
object's image phase varies slowly: the phase measured from the symmetric,
fully sampled centre of k-space stands in for the missing half.

Every function takes hybrid data (..., lines, cols): lines in centred k-space
(index n // 2 is k = 0), any other axes already transformed; each
(z, column) line is an independent problem, so a phase that depends on the
column alone (as the pipeline's unshifted readout transform leaves) changes
nothing.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from recon_image.errors import BadInput
from recon_image.pipeline import fft

Method = Literal["zero", "pocs", "homodyne"]

POCS_ITERATIONS = 10


def _symmetric_half_width(sampled: np.ndarray) -> tuple[int, int]:
    """(h, side): lines ``n//2 - h .. n//2 + h`` are all sampled; side +1 when the high side
    of k-space was acquired beyond them, -1 for the low side, 0 when nothing is missing."""
    n = sampled.size
    centre = n // 2
    acquired = np.flatnonzero(sampled)
    if acquired.size == 0 or not sampled[centre]:
        raise BadInput(
            "the centre of k-space was not acquired along the phase-encoding axis; "
            "partial Fourier reconstruction is impossible for this measurement"
        )
    first, last = int(acquired[0]), int(acquired[-1])
    low, high = centre - first, last - centre
    half = min(low, high)
    if first == 0 and last >= n - 1 - (1 - n % 2):
        return half, 0
    if half < 2:
        raise BadInput(
            f"only {half} lines on one side of the k-space centre were acquired; "
            "POCS and homodyne need a symmetric centre, reconstruct with zero-filling"
        )
    return half, 1 if high > low else -1


def _lines_ifft(data: np.ndarray, threads: int) -> np.ndarray:
    return fft.centred(data, (-2,), "backward", threads=threads)


def _lines_fft(data: np.ndarray, threads: int) -> np.ndarray:
    return fft.centred(data, (-2,), "forward", threads=threads)


def _phase(data: np.ndarray, half: int, threads: int) -> np.ndarray:
    """exp(i * phase) of the low-resolution image from the symmetric centre (Hann window)."""
    n = data.shape[-2]
    centre = n // 2
    window = np.zeros(n, dtype=np.float32)
    width = 2 * half + 1
    window[centre - half : centre + half + 1] = np.hanning(width + 2)[1:-1]
    low = np.ascontiguousarray(data * window[:, None])
    image = _lines_ifft(low, threads)
    magnitude = np.abs(image)
    return np.where(magnitude > 0, image / np.maximum(magnitude, 1e-30), 1).astype(np.complex64)


def _homodyne_weights(n: int, half: int, side: int) -> np.ndarray:
    """0 on the missing side, 2 beyond the symmetric centre, a ramp through it.

    ``w(k) + w(-k) = 2`` everywhere, so the weighted data plus its Hermitian
    mirror counts every frequency once.
    """
    centre = n // 2
    k = np.arange(n) - centre
    ramp = 1.0 + side * k / (half + 1.0)
    weights = np.where(side * k > half, 2.0, np.where(side * k < -half, 0.0, ramp))
    return weights.astype(np.float32)


def _one_pattern(data: np.ndarray, sampled: np.ndarray, method: Method, threads: int) -> np.ndarray:
    """Reconstruct lines that share one sampling pattern ``sampled`` (lines,)."""
    if method == "zero":
        return _lines_ifft(data, threads)
    half, side = _symmetric_half_width(sampled)
    if side == 0:
        return _lines_ifft(data, threads)
    phase = _phase(data, half, threads)
    if method == "homodyne":
        weights = _homodyne_weights(data.shape[-2], half, side)
        weighted = np.ascontiguousarray(data * weights[:, None])
        image = _lines_ifft(weighted, threads)
        real = np.real(image * phase.conj())
        return real.astype(np.complex64)
    if method != "pocs":
        raise BadInput(f"unknown partial Fourier method {method!r}; use zero, pocs or homodyne")
    measured = data.copy()
    mask = sampled[:, None]
    image = _lines_ifft(np.ascontiguousarray(data), threads)
    for _ in range(POCS_ITERATIONS):
        image = np.abs(image) * phase
        kspace = _lines_fft(image.astype(np.complex64), threads)
        np.copyto(kspace, measured, where=mask)
        image = _lines_ifft(kspace, threads)
    return image


def reconstruct_lines(
    data: np.ndarray, sampled: np.ndarray, method: Method, *, threads: int = 1
) -> np.ndarray:
    """Image along the phase-encoding axis of hybrid data (z, lines, cols), complex64.

    Parameters
    ----------
    data
        (z, lines, cols) complex64 with lines in centred k-space and
        unacquired lines zero. Not modified.
    sampled
        (z, lines) bool, the acquired lines of each z (``KSpace.sampled``).
    method
        "zero" (plain inverse FFT of the zero-filled data), "pocs" or "homodyne".

    Returns
    -------
    np.ndarray
        (z, lines, cols) complex64, centred along lines and normalised. The
        homodyne image is real (its phase is removed), stored as complex.
    """
    if data.ndim != 3 or sampled.shape != data.shape[:2]:
        raise ValueError(f"data {data.shape} and sampling {sampled.shape} do not match")
    out = np.empty(data.shape, dtype=np.complex64)
    patterns, which = np.unique(sampled, axis=0, return_inverse=True)
    which = np.asarray(which).reshape(-1)
    for index, pattern in enumerate(patterns):
        zs = np.flatnonzero(which == index)
        block = np.ascontiguousarray(data[zs])
        out[zs] = _one_pattern(block, pattern, method, threads)
    return out
