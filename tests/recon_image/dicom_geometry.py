"""Where a DICOM image's pixels lie, from its own attributes (PS3.3 C.7.6.2.1.1)."""

from __future__ import annotations

import numpy as np
import pydicom


def orientation(ds: pydicom.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The row and column directions of ImageOrientationPatient."""
    values = np.array([float(v) for v in ds.ImageOrientationPatient])
    return values[:3], values[3:]


def pixel_centres(ds: pydicom.Dataset) -> np.ndarray:
    """(rows, columns, 3): the patient coordinates of each pixel's centre."""
    row, column = orientation(ds)
    row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
    first = np.array([float(v) for v in ds.ImagePositionPatient])
    r = np.arange(ds.Rows)[:, None, None]
    c = np.arange(ds.Columns)[None, :, None]
    return first + c * column_spacing * row + r * row_spacing * column


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """The angle between two directions in degrees."""
    cosine = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))
