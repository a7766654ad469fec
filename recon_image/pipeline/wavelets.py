"""Orthogonal 2D wavelet transform of complex images and complex soft-thresholding.

The real and imaginary parts go through PyWavelets together, as a batch of
two real images, so each transform is one call; periodic extension keeps the
transform orthogonal, so soft-thresholding its coefficients is the exact
proximal step of the L1 norm.
"""

from __future__ import annotations

import numpy as np
import pywt


class Wavelet:
    """An orthogonal wavelet transform for images of one shape.

    Parameters
    ----------
    shape
        (rows, cols) of the images.
    name
        A PyWavelets wavelet name (``db4`` by default).
    levels
        Decomposition levels; at most what the image size allows.
    """

    def __init__(self, shape: tuple[int, int], name: str = "db4", levels: int = 4) -> None:
        self.shape = shape
        self.wavelet = pywt.Wavelet(name)
        allowed = pywt.dwtn_max_level(shape, self.wavelet)
        self.levels = max(1, min(levels, allowed))

    def forward(self, image: np.ndarray) -> list:
        """Coefficients of a complex image: PyWavelets' list, each array (2, ...) real/imag."""
        pair = np.stack([image.real, image.imag])
        return pywt.wavedec2(
            pair, self.wavelet, mode="periodization", level=self.levels, axes=(-2, -1)
        )

    def inverse(self, coefficients: list) -> np.ndarray:
        """The complex image of ``coefficients``, complex64 of ``shape``."""
        pair = pywt.waverec2(coefficients, self.wavelet, mode="periodization", axes=(-2, -1))
        rows, cols = self.shape
        out = np.empty(self.shape, dtype=np.complex64)
        out.real = pair[0, :rows, :cols]
        out.imag = pair[1, :rows, :cols]
        return out

    def shrink(self, image: np.ndarray, threshold: float) -> np.ndarray:
        """Soft-threshold the detail coefficients of ``image`` by ``threshold`` (complex L1)."""
        coefficients = self.forward(image)
        for level in coefficients[1:]:
            for band in level:
                soft_threshold(band, threshold)
        return self.inverse(coefficients)


def soft_threshold(pair: np.ndarray, threshold: float) -> np.ndarray:
    """Shrink the magnitudes of complex values stored as ``pair`` = (real, imag) in place."""
    magnitude = np.hypot(pair[0], pair[1])
    scale = np.maximum(magnitude - threshold, 0.0)
    np.divide(scale, magnitude, out=scale, where=magnitude > 0)
    pair *= scale
    return pair
