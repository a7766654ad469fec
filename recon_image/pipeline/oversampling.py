"""Readout oversampling removal: inverse FFT along the readout, keep the central columns.

Siemens scanners sample the readout at twice the image resolution by default;
the extra field of view holds signal from outside the prescribed one. After
the inverse FFT along the readout the central ``matrix[0]`` columns are the
image.

The pipeline transforms without centring shifts (see :mod:`cartesian`), so
its readout images have the field-of-view centre at column 0 and the
field of view wrapped around the ends. :func:`crop_wrapped` cuts the central
columns out of that layout without a shift; :func:`remove_oversampling` is the
plain centred version for any caller.
"""

from __future__ import annotations

import numpy as np

from recon_image.pipeline import fft


def crop_wrapped(source: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Copy the central ``out.shape[-1]`` columns of a wrapped readout image into ``out``.

    ``source`` is ``ifft`` along its last axis without shifts, so column 0 is
    the centre of the field of view. ``out`` receives the same wrapped layout
    for the narrower field of view: ``fftshift`` of it is the centred crop.

    ``out`` may overlap ``source``: the pipeline crops in place, each coil's image into the
    start of its own k-space memory. Row i of ``out`` then lies before row i of ``source``,
    so rows are copied in blocks that end before the first source row not yet read (1, 1,
    2, 4, ... rows): half the data is copied once, with no copy of ``source`` first.
    """
    wide, narrow = source.shape[-1], out.shape[-1]
    if not np.shares_memory(source, out):
        return _crop_rows(source, out)
    item = source.itemsize
    gap = source.ctypes.data - out.ctypes.data
    if gap < 0 or not (source.flags.c_contiguous and out.flags.c_contiguous):
        return _crop_rows(source.copy(), out)
    rows_in, rows_out = source.reshape(-1, wide), out.reshape(-1, narrow)
    row, rows = 0, rows_in.shape[0]
    while row < rows:
        # out rows [row, row + count) end where source row ``row`` (the first unread) starts
        count = max(1, (gap + row * wide * item) // (narrow * item) - row)
        stop = min(rows, row + count)
        _crop_rows(rows_in[row:stop], rows_out[row:stop])
        row = stop
    return out


def _crop_rows(source: np.ndarray, out: np.ndarray) -> np.ndarray:
    wide, narrow = source.shape[-1], out.shape[-1]
    right = narrow - narrow // 2
    out[..., :right] = source[..., :right]
    out[..., right:] = source[..., wide - narrow // 2 :]
    return out


def remove_oversampling(kspace: np.ndarray, columns: int, *, threads: int = 1) -> np.ndarray:
    """Centred readout image (..., columns) of k-space (..., oversampled columns).

    Returns a new complex64 array: the inverse FFT along the last axis,
    normalised, cropped to the central ``columns``. ``kspace`` is overwritten.
    """
    wide = kspace.shape[-1]
    if columns > wide:
        raise ValueError(f"cannot crop {wide} readout samples to {columns}")
    image = fft.centred(kspace, (-1,), "backward", threads=threads)
    start = wide // 2 - columns // 2
    return np.ascontiguousarray(image[..., start : start + columns])
