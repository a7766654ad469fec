"""The SENSE encoding operator of one 2D problem on planned in-place FFTW transforms.

``E x = M F (S x)``: coil sensitivities ``S``, the unitary 2D Fourier transform
``F`` and the sampling mask ``M``. The iterative reconstructions only need the
normal operator ``E^H E`` and the adjoint ``E^H`` applied to the data, both
computed coil by coil in one aligned buffer of the operator's own.

Centring costs nothing per iteration: a centred transform is
``fftshift(fft(ifftshift(x)))``, so the maps, the mask and the data are
``ifftshift``-ed once when the operator is made, the unknown image lives in
shifted coordinates throughout, and only the result is shifted back.

Each operator owns its FFTW plans (``pyfftw.FFTW`` objects planned with
FFTW_MEASURE on its buffer, fast with the worker's wisdom), so operators on
different threads never share a plan; FFTW releases the GIL while it runs.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pyfftw

from recon_image.pipeline import fft

_planning = threading.Lock()


class SenseOperator:
    """``E^H E`` and ``E^H`` of one problem: maps (coils, rows, cols), mask (rows, cols).

    Parameters
    ----------
    maps
        complex coil sensitivities in the centred convention; their root sum
        of squares should be at most 1, so that ``E^H E`` has norm at most 1.
    mask
        bool sampling pattern of k-space in the centred convention.
    threads
        FFTW threads of this operator's transforms.
    """

    def __init__(self, maps: np.ndarray, mask: np.ndarray, *, threads: int = 1) -> None:
        coils, rows, cols = maps.shape
        self.shape = (rows, cols)
        self.coils = coils
        self.root = math.sqrt(rows * cols)
        self.update(maps, mask)
        self.buffer = fft.empty_aligned((coils, rows, cols))
        with _planning:
            self.forward_plan = pyfftw.FFTW(
                self.buffer,
                self.buffer,
                axes=(1, 2),
                direction="FFTW_FORWARD",
                flags=("FFTW_MEASURE",),
                threads=threads,
            )
            self.backward_plan = pyfftw.FFTW(
                self.buffer,
                self.buffer,
                axes=(1, 2),
                direction="FFTW_BACKWARD",
                flags=("FFTW_MEASURE",),
                threads=threads,
            )

    def update(self, maps: np.ndarray, mask: np.ndarray) -> None:
        """Take another problem's maps and mask of the same shape, keeping the plans."""
        if maps.shape != (self.coils, *self.shape):
            raise ValueError(f"operator is for maps {(self.coils, *self.shape)}, got {maps.shape}")
        self.maps = np.ascontiguousarray(np.fft.ifftshift(maps, axes=(1, 2)), dtype=np.complex64)
        self.conj_maps = self.maps.conj()
        shifted = np.fft.ifftshift(np.broadcast_to(mask, self.shape))
        self.mask = shifted.astype(bool)
        self.weight = (shifted / np.float32(self.root * self.root)).astype(np.float32)

    def shift_data(self, kspace: np.ndarray) -> np.ndarray:
        """Measured centred k-space (coils, rows, cols) → the unitary, shifted data ``y``."""
        data = np.fft.ifftshift(kspace, axes=(1, 2)).astype(np.complex64)
        data *= np.float32(1.0 / self.root)
        data *= self.mask
        return data

    def adjoint(self, data: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``E^H y`` of shifted data (coils, rows, cols) → shifted image (rows, cols)."""
        np.multiply(data, self.mask, out=self.buffer)
        self.backward_plan.execute()
        self.buffer *= self.conj_maps
        result = np.sum(self.buffer, axis=0, out=out)
        result *= np.float32(1.0 / self.root)
        return result

    def normal(self, image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``E^H E x`` of a shifted image (rows, cols)."""
        np.multiply(self.maps, image, out=self.buffer)
        self.forward_plan.execute()
        self.buffer *= self.weight
        self.backward_plan.execute()
        self.buffer *= self.conj_maps
        return np.sum(self.buffer, axis=0, out=out)

    def zero_filled(self, data: np.ndarray) -> np.ndarray:
        """The centred coil-combined zero-filled image ``E^H y``."""
        return unshift(self.adjoint(data))


def unshift(image: np.ndarray) -> np.ndarray:
    """A shifted image back to the centred convention."""
    return np.fft.fftshift(image)
