"""Coil sensitivities from the fully sampled reference block: ESPIRiT and Walsh.

ESPIRiT (Uecker et al., MRM 2014): the calibration matrix of the reference
block (every ``kernel`` x ``kernel`` patch of every coil, one row each) has a
signal subspace spanned by its leading right singular vectors; transformed to
image space, these kernels give at every pixel a coils x coils matrix whose
eigenvector of eigenvalue 1 is the coil sensitivities there. Pixels whose
largest eigenvalue falls below ``crop`` lie outside the object and get no
sensitivity.

Memory stays bounded: the kernels go to image space by a separable DFT, a
chunk of image rows at a time, and the per-pixel eigen-decompositions run on
that chunk only, so the peak is a few tens of MiB beyond the maps whatever
the matrix. By default the eigenproblems are solved on every fourth pixel
only and the eigenvectors interpolated (``EspiritOptions.grid``), which makes
the many small problems of a 3D volume (one per readout position) cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recon_image.errors import BadInput
from recon_image.pipeline import coils as coil_ops

_CHUNK_BYTES = 32 << 20
_COARSE = 4  # grid step of the first, converged eigenvectors
_TOLERANCE = 1e-3  # relative eigen-residual below which a power iteration has converged
_ROUNDS = 4  # extra rounds of power iteration for the slow pixels before eigh


@dataclass(frozen=True)
class EspiritOptions:
    """Kernel width, singular-value threshold (relative to the largest), eigenvalue crop,
    the calibration region's size and the power iterations of the per-pixel eigenvectors.

    ``grid`` above 1 solves the per-pixel eigenproblems only on every
    ``grid``-th row and column (and the last) and interpolates the
    eigenvectors and eigenvalues linearly between them: the maps of a
    ``kernel``-wide k-space kernel vary slowly, and the cost of forming and
    solving the per-pixel matrices falls by ``grid`` squared. Up to 4 the
    maps stay within 1% of the per-pixel ones inside the object.
    """

    kernel: int = 6
    threshold: float = 0.02
    crop: float = 0.8
    calibration: int = 24
    power_iterations: int = 20
    grid: int = 4


def _centre(block: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` (at most) of a (coils, lines, cols) block."""
    _, lines, cols = block.shape
    a, b = min(size, lines), min(size, cols)
    top, left = lines // 2 - a // 2, cols // 2 - b // 2
    return block[:, top : top + a, left : left + b]


def espirit_kernels(calibration: np.ndarray, options: EspiritOptions) -> np.ndarray:
    """The signal-subspace kernels (n, coils, k, k) of a calibration block (coils, lines, cols)."""
    block = _centre(np.asarray(calibration, dtype=np.complex64), options.calibration)
    coils, lines, cols = block.shape
    k = options.kernel
    if lines < k or cols < k:
        raise BadInput(
            f"the reference block ({lines} x {cols}) is smaller than the {k} x {k} ESPIRiT"
            " kernel; acquire more reference lines or choose a smaller kernel"
        )
    windows = np.lib.stride_tricks.sliding_window_view(block, (k, k), axis=(1, 2))
    matrix = windows.transpose(1, 2, 0, 3, 4).reshape(-1, coils * k * k)
    # right singular vectors from the small (rows x rows) Gram matrix: V = A^H U / s
    rows = matrix.astype(np.complex128)
    squares, left = np.linalg.eigh(rows @ rows.conj().T)
    squares, left = squares[::-1], left[:, ::-1]
    values = np.sqrt(np.maximum(squares, 0.0))
    # a block without signal (all zero) has no subspace: no kernels, maps of zeros
    keep = (values >= options.threshold * values[0]) & (values > 0)
    vectors = (rows.conj().T @ left[:, keep]) / values[keep]
    return vectors.T.reshape(-1, coils, k, k).astype(np.complex64)


def _phases(offsets: np.ndarray, n: int, at: np.ndarray) -> np.ndarray:
    """(len(offsets), len(at)) DFT phases from k-space offsets to image positions, centred."""
    positions = at - n // 2
    return np.exp(-2j * np.pi * np.outer(offsets, positions) / n).astype(np.complex64)


def _gram_kernel(kernels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, g): the k-space form of the per-pixel Gram matrices of the kernel images.

    With ``v_n(x)`` the image of kernel ``n``, ``sum_n v_n(x) v_n(x)^H`` is the
    image of ``g(d) = sum_n sum_w K_n(w + d) K_n(w)^H``, a (2k - 1)^2 x coils x
    coils array computed by FFTs on a 2k grid; ``offsets`` are the d along each axis.
    """
    n, coils, k, _ = kernels.shape
    size = 2 * k
    spectra = np.fft.fft2(kernels, s=(size, size), axes=(2, 3))
    spectra = spectra.reshape(n, coils, size * size).transpose(2, 1, 0)
    products = spectra @ spectra.conj().transpose(0, 2, 1)
    g = np.fft.ifft2(products.reshape(size, size, coils, coils), axes=(0, 1))
    offsets = np.r_[-(k - 1) : k]
    wrapped = offsets % size
    return offsets, g[np.ix_(wrapped, wrapped)].astype(np.complex64)


def _power(gram: np.ndarray, vector: np.ndarray, iterations: int) -> np.ndarray:
    """``iterations`` normalised power steps of ``vector`` (P, C) under ``gram`` (P, C, C)."""
    for _ in range(iterations):
        vector = np.matmul(gram, vector[:, :, None])[:, :, 0]
        vector /= np.maximum(np.linalg.norm(vector, axis=1, keepdims=True), 1e-30)
    return vector


def _rayleigh(gram: np.ndarray, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Rayleigh quotient, relative eigen-residual) of unit ``vector`` under ``gram``."""
    product = np.matmul(gram, vector[:, :, None])[:, :, 0]
    value = np.real(np.einsum("pc,pc->p", vector.conj(), product))
    residual = np.linalg.norm(product - value[:, None] * vector, axis=1)
    return value, residual / np.maximum(np.abs(value), 1e-30)


def _dominant(
    gram: np.ndarray, iterations: int, start: np.ndarray | None = None, floor: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Power iteration on a stack of Hermitian matrices (P, C, C): (eigenvalue, eigenvector).

    Pixels that have not converged after ``iterations`` (their two largest
    eigenvalues lie close) iterate on, alone, a few rounds more; the last
    stragglers get a full eigen-decomposition. Pixels whose eigenvalue stays
    below ``floor`` (outside the object) are not refined.
    """
    vector = gram.sum(axis=2) if start is None else start.copy()
    vector /= np.maximum(np.linalg.norm(vector, axis=1, keepdims=True), 1e-30)
    vector = _power(gram, vector, iterations)
    value, residual = _rayleigh(gram, vector)
    slow = np.flatnonzero((residual > _TOLERANCE) & (value >= floor))
    for _ in range(_ROUNDS):
        if slow.size == 0:
            break
        vector[slow] = _power(gram[slow], vector[slow], 4 * iterations)
        value[slow], residual[slow] = _rayleigh(gram[slow], vector[slow])
        slow = slow[residual[slow] > _TOLERANCE]
    if slow.size:
        values, vectors = np.linalg.eigh(gram[slow])
        value[slow] = values[:, -1]
        vector[slow] = vectors[:, :, -1]
    return value, vector


def espirit(
    calibration: np.ndarray,
    shape: tuple[int, int],
    options: EspiritOptions = EspiritOptions(),
) -> np.ndarray:
    """ESPIRiT maps (coils, rows, cols), complex64, for images of ``shape``.

    Parameters
    ----------
    calibration
        Fully sampled reference k-space (coils, lines, cols) in the centred
        convention, columns at the image's sampling (no readout oversampling).
    shape
        (rows, cols) of the images the maps are for.

    Returns
    -------
    np.ndarray
        Maps with a root sum of squares of 1 inside the object and 0 outside,
        phase relative to the first coil.
    """
    kernels = espirit_kernels(calibration, options)
    _, coils, k, _ = kernels.shape
    rows, cols = shape
    offsets, g = _gram_kernel(kernels)
    g *= np.float32(1.0 / (k * k))
    # along the columns first: (row offsets, cols, coils, coils)
    half = np.einsum("abcd,bx->axcd", g, _phases(offsets, cols, np.arange(cols)), optimize=True)
    if options.grid > 1:
        return _interpolated(half, offsets, shape, options)
    # Eigenvectors change slowly from pixel to pixel: converge them on a grid of every
    # _COARSE-th pixel first, then start every pixel from its grid neighbour's.
    coarse_rows = np.arange(0, rows, _COARSE)
    coarse_half = half[:, ::_COARSE]
    gram = np.einsum(
        "axcd,ar->rxcd", coarse_half, _phases(offsets, rows, coarse_rows), optimize=True
    )
    _, coarse = _dominant(gram.reshape(-1, coils, coils), 4 * options.power_iterations)
    coarse = coarse.reshape(coarse_rows.size, coarse_half.shape[1], coils)
    step = max(1, _CHUNK_BYTES // (cols * coils * coils * 8))
    maps = np.zeros((coils, rows, cols), dtype=np.complex64)
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        phase = _phases(offsets, rows, np.arange(start, stop))
        gram = np.einsum("axcd,ar->rxcd", half, phase, optimize=True)
        near = coarse[np.arange(start, stop) // _COARSE][:, np.arange(cols) // _COARSE]
        value, vector = _dominant(
            gram.reshape(-1, coils, coils),
            options.power_iterations,
            near.reshape(-1, coils),
            floor=options.crop / 2,
        )
        top = vector.conj()
        reference = top[:, :1]
        top *= np.where(
            np.abs(reference) > 0, reference.conj() / np.maximum(np.abs(reference), 1e-30), 1
        )
        top[value < options.crop] = 0
        maps[:, start:stop] = top.T.reshape(coils, stop - start, cols)
    return maps


def _grid(n: int, step: int) -> np.ndarray:
    """Every ``step``-th of ``n`` positions and the last."""
    return np.unique(np.r_[0:n:step, n - 1])


def _linear(n: int, at: np.ndarray) -> np.ndarray:
    """(n, len(at)) weights interpolating values at positions ``at`` linearly to 0..n-1."""
    weights = np.zeros((n, at.size), dtype=np.float32)
    upper = np.clip(np.searchsorted(at, np.arange(n), side="right"), 1, max(at.size - 1, 1))
    if at.size == 1:
        weights[:, 0] = 1.0
        return weights
    lower = upper - 1
    fraction = (np.arange(n) - at[lower]) / (at[upper] - at[lower])
    weights[np.arange(n), lower] = 1.0 - fraction
    weights[np.arange(n), upper] += fraction
    return weights


def _interpolated(
    half: np.ndarray, offsets: np.ndarray, shape: tuple[int, int], options: EspiritOptions
) -> np.ndarray:
    """Maps from eigenvectors solved on a coarse grid and interpolated linearly.

    Before interpolating, every coarse eigenvector's phase is set relative to
    its projection on the one at the grid's centre, which varies smoothly
    (unlike a single coil's phase, which jumps where that coil sees nothing).
    """
    rows, cols = shape
    coils = half.shape[-1]
    at_rows, at_cols = _grid(rows, options.grid), _grid(cols, options.grid)
    gram = np.einsum(
        "axcd,ar->rxcd", half[:, at_cols], _phases(offsets, rows, at_rows), optimize=True
    )
    value, vector = _dominant(
        gram.reshape(-1, coils, coils), 4 * options.power_iterations, floor=options.crop / 2
    )
    vector = vector.conj()
    centre = vector.reshape(at_rows.size, at_cols.size, coils)[at_rows.size // 2, at_cols.size // 2]
    projection = vector @ centre.conj()
    vector *= (projection.conj() / np.maximum(np.abs(projection), 1e-30))[:, None]
    vector[value < options.crop / 2] = 0
    coarse = vector.reshape(at_rows.size, at_cols.size, coils)
    across_rows, across_cols = _linear(rows, at_rows), _linear(cols, at_cols)
    fine = np.einsum("ra,abk,xb->krx", across_rows, coarse, across_cols, optimize=True)
    values = across_rows @ value.reshape(at_rows.size, at_cols.size) @ across_cols.T
    fine /= np.maximum(np.sqrt(np.sum(np.abs(fine) ** 2, axis=0)), 1e-30)
    reference = fine[:1]
    fine *= np.where(
        np.abs(reference) > 0, reference.conj() / np.maximum(np.abs(reference), 1e-30), 1
    )
    fine[:, values < options.crop] = 0
    return fine.astype(np.complex64)


def walsh(
    calibration: np.ndarray, shape: tuple[int, int], *, block: int = 4, kernel: int = 12
) -> np.ndarray:
    """Walsh's adaptive sensitivities (coils, rows, cols) from the low-resolution coil images.

    The reference block, zero-padded to ``shape``, gives low-resolution coil
    images; at every pixel the sensitivity is the dominant eigenvector of the
    coil correlation matrix summed over a ``kernel`` x ``kernel``
    neighbourhood, formed on ``block`` x ``block`` tiles and interpolated
    between tile centres as :func:`coils.adaptive_combine` does. The maps are
    scaled by the local image energy relative to its peak, so that outside the
    object they fade to zero; phase is relative to the first coil.
    """
    coils = calibration.shape[0]
    rows, cols = shape
    lines, width = calibration.shape[1:]
    padded = np.zeros((coils, rows, cols), dtype=np.complex64)
    top, left = rows // 2 - lines // 2, cols // 2 - width // 2
    window = np.outer(np.hanning(lines + 2)[1:-1], np.hanning(width + 2)[1:-1])
    padded[:, top : top + lines, left : left + width] = calibration * window.astype(np.float32)
    images = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(padded, axes=(1, 2))), axes=(1, 2))
    by, bx = -(-rows // block), -(-cols // block)
    tiles = np.zeros((coils, by * block, bx * block), dtype=np.complex64)
    tiles[:, :rows, :cols] = images
    tiles = tiles.reshape(coils, by, block, bx, block).transpose(1, 3, 0, 2, 4)
    tiles = tiles.reshape(by, bx, coils, block * block)
    correlation = tiles @ tiles.conj().transpose(0, 1, 3, 2)
    span = max(1, round(kernel / block))
    correlation = coil_ops._box_sum(coil_ops._box_sum(correlation, span, 0), span, 1)
    _, vector = _dominant(correlation.reshape(-1, coils, coils), 30)
    reference = vector[:, :1]
    vector *= np.where(
        np.abs(reference) > 0, reference.conj() / np.maximum(np.abs(reference), 1e-30), 1
    )
    weights = np.moveaxis(vector.reshape(by, bx, coils), 2, 0).astype(np.complex64)
    weights = coil_ops._upsample(coil_ops._upsample(weights, block, rows, 1), block, cols, 2)
    weights /= np.maximum(np.sqrt(np.sum(np.abs(weights) ** 2, axis=0)), 1e-20)
    energy = np.sqrt(np.sum(np.abs(images) ** 2, axis=0))
    inside = energy > 0.05 * float(energy.max())
    return (weights * inside).astype(np.complex64)
