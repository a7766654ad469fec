from __future__ import annotations

import numpy as np
import pytest

from recon_image.errors import BadInput
from recon_image.pipeline.scaling import to_dicom_integers


def test_largest_value_becomes_4095_and_zero_stays_zero():
    magnitude = np.array([[0.0, 0.25], [0.5, 2.0]], dtype=np.float32)
    pixels = to_dicom_integers(magnitude)
    print("scaled:", pixels.tolist())
    assert pixels.dtype == np.uint16
    assert pixels.tolist() == [[0, 512], [1024, 4095]]


def test_an_empty_image_stays_black():
    assert not to_dicom_integers(np.zeros((2, 3), dtype=np.float32)).any()


def test_corrupt_values_are_refused_with_a_reason():
    with pytest.raises(BadInput, match="NaN or infinite"):
        to_dicom_integers(np.array([1.0, np.nan], dtype=np.float32))
