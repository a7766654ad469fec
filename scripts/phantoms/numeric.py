"""Numeric phantoms: Shepp-Logan images, coil sensitivities, and their k-space.

The k-space convention here is the one the readers and the pipeline share:
k-space index ``n // 2`` is k = 0 and image index ``n // 2`` is the centre of
the field of view, i.e. ``kspace = fftshift(fftn(ifftshift(image)))`` over the
encoded axes, and the reconstruction undoes it with the inverse.
"""

from __future__ import annotations

import numpy as np

# Modified Shepp-Logan in 3D: intensity, semi-axes (a, b, c), centre (x, y, z), rotation about z
# in degrees. Axes are normalised to [-1, 1]; x runs along the readout, y along phase, z along
# slices.
_ELLIPSOIDS = (
    (1.0, 0.69, 0.92, 0.81, 0.0, 0.0, 0.0, 0.0),
    (-0.8, 0.6624, 0.874, 0.78, 0.0, -0.0184, 0.0, 0.0),
    (-0.2, 0.11, 0.31, 0.22, 0.22, 0.0, 0.0, -18.0),
    (-0.2, 0.16, 0.41, 0.28, -0.22, 0.0, 0.0, 18.0),
    (0.1, 0.21, 0.25, 0.41, 0.0, 0.35, -0.15, 0.0),
    (0.1, 0.046, 0.046, 0.05, 0.0, 0.1, 0.25, 0.0),
    (0.1, 0.046, 0.046, 0.05, 0.0, -0.1, 0.25, 0.0),
    (0.1, 0.046, 0.023, 0.05, -0.08, -0.605, 0.0, 0.0),
    (0.1, 0.023, 0.023, 0.02, 0.0, -0.606, 0.0, 0.0),
    (0.1, 0.023, 0.046, 0.02, 0.06, -0.605, 0.0, 0.0),
)


def _grid(n: int) -> np.ndarray:
    """Pixel centres in [-1, 1) with index n // 2 at 0."""
    return (np.arange(n) - n // 2) * (2.0 / n)


def shepp_logan(shape: tuple[int, int, int]) -> np.ndarray:
    """A modified Shepp-Logan phantom, float32 of ``shape`` = (slices, lines, columns).

    Slices sample the phantom between z = -0.5 and 0.5 so that every slice
    shows structure; one slice gives the central section.
    """
    nz, ny, nx = shape
    z = np.linspace(-0.5, 0.5, nz) if nz > 1 else np.zeros(1)
    zz, yy, xx = np.meshgrid(z, -_grid(ny), _grid(nx), indexing="ij")
    image = np.zeros(shape, dtype=np.float32)
    for value, a, b, c, x0, y0, z0, degrees in _ELLIPSOIDS:
        phi = np.deg2rad(degrees)
        dx, dy, dz = xx - x0, yy - y0, zz - z0
        u = dx * np.cos(phi) + dy * np.sin(phi)
        v = -dx * np.sin(phi) + dy * np.cos(phi)
        image[(u / a) ** 2 + (v / b) ** 2 + (dz / c) ** 2 <= 1.0] += value
    return image


def coil_maps(coils: int, shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """Smooth complex sensitivities of ``coils`` loops around the object, complex64.

    Returns an array (coils, slices, lines, columns) with a coil-specific
    phase, normalised to a root sum of squares of 1 at every pixel, so that
    the ideal coil combination of ``maps * image`` is ``|image|`` itself.
    """
    nz, ny, nx = shape
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.meshgrid(
        np.linspace(-0.5, 0.5, nz) if nz > 1 else np.zeros(1),
        _grid(ny),
        _grid(nx),
        indexing="ij",
    )
    maps = np.empty((coils, nz, ny, nx), dtype=np.complex64)
    for c in range(coils):
        angle = 2 * np.pi * c / coils
        cx, cy = 1.5 * np.cos(angle), 1.5 * np.sin(angle)
        cz = 0.3 * (-1) ** c if nz > 1 else 0.0
        distance2 = (xx - cx) ** 2 + (yy - cy) ** 2 + (zz - cz) ** 2
        phase = angle + rng.uniform(-np.pi, np.pi) + 0.5 * (xx * np.cos(angle) + yy * np.sin(angle))
        maps[c] = (1.0 / distance2) * np.exp(1j * phase)
    maps /= np.sqrt(np.sum(np.abs(maps) ** 2, axis=0))
    return maps


def to_kspace(images: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Centred forward FFT of ``images`` over ``axes`` (complex64), the shared convention."""
    shifted = np.fft.ifftshift(images, axes=axes)
    return np.fft.fftshift(np.fft.fftn(shifted, axes=axes), axes=axes).astype(np.complex64)


def oversample(images: np.ndarray, factor: int = 2) -> np.ndarray:
    """Zero-pad the last (readout) axis to ``factor`` times its length, centred.

    Simulates readout oversampling: the object fills the central part of a
    wider readout field of view.
    """
    n = images.shape[-1]
    wide = n * factor
    start = wide // 2 - n // 2
    padded = np.zeros((*images.shape[:-1], wide), dtype=images.dtype)
    padded[..., start : start + n] = images
    return padded


def nrmse(image: np.ndarray, truth: np.ndarray) -> float:
    """Normalised RMS error of ``image`` against ``truth`` after least-squares scaling."""
    a = np.abs(image).ravel().astype(np.float64)
    b = np.abs(truth).ravel().astype(np.float64)
    scale = float(a @ b) / float(a @ a) if a.any() else 0.0
    return float(np.linalg.norm(scale * a - b) / np.linalg.norm(b))
