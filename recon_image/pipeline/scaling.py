"""Scaling magnitude images to the 12-bit integers DICOM MR images carry."""

from __future__ import annotations

import numpy as np

from recon_image.errors import BadInput

DICOM_MAX = 4095


def to_dicom_integers(magnitude: np.ndarray) -> np.ndarray:
    """uint16 in 0..4095 with the largest value at 4095 and zero kept at zero.

    One scale for the whole array (all volumes and slices), so that
    intensities compare across the series; negative values, which a magnitude
    does not have, clip to 0.

    Raises
    ------
    BadInput
        When the image holds NaN or infinity, which only corrupt raw samples produce.
    """
    if not np.all(np.isfinite(magnitude)):
        raise BadInput(
            "the reconstructed image holds NaN or infinite values: the raw data contain "
            "corrupt samples; re-export the measurement from the scanner"
        )
    peak = float(np.max(magnitude)) if magnitude.size else 0.0
    if peak <= 0.0:
        return np.zeros(magnitude.shape, dtype=np.uint16)
    scaled = np.multiply(magnitude, np.float32(DICOM_MAX / peak), dtype=np.float32)
    np.clip(scaled, 0, DICOM_MAX, out=scaled)
    np.rint(scaled, out=scaled)
    return scaled.astype(np.uint16)
