"""The phantom scan's DICOM, as a PACS displays it, shows the Shepp-Logan phantom upright.

A PACS draws a DICOM image's rows top to bottom and its columns left to right.
For the transverse slice the phantom writer scans by default, the worker's
DICOM must put anterior at the top and the patient's right on the left (as a
radiologist reads it), and the image there must be the phantom as
scikit-image draws it, not mirrored or turned.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from scipy.ndimage import map_coordinates
from skimage.data import shepp_logan_phantom

from recon_image.programs.cartesian import reconstruct_file
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_ve import write_ve
from tests.recon_image.dicom_geometry import orientation

SIZE = 128


def _drawn_on_the_pixel_grid(size: int) -> np.ndarray:
    """scikit-image's phantom (400 pixels across [-1, 1], y up) at the DICOM's pixel centres.

    The worker's image has its centre at pixel ``size // 2`` (k-space centre convention),
    pixels ``2 / size`` apart; row ``i`` lies at y = -(i - size // 2) * 2 / size when upright.
    """
    drawn = shepp_logan_phantom()
    position = (np.arange(size) - size // 2) * 2.0 / size
    rows = (1.0 + position) * drawn.shape[0] / 2 - 0.5  # from y = +1 at the top
    columns = (1.0 + position) * drawn.shape[1] / 2 - 0.5
    grid = np.meshgrid(rows, columns, indexing="ij")
    return map_coordinates(drawn, grid, order=1, mode="constant")


def _asymmetry_agreement(shown: np.ndarray, drawn: np.ndarray, axis: int) -> float:
    """Correlation of the two images' parts that change sign when mirrored along ``axis``.

    Both are mirrored about the centre pixel ``size // 2``. +1: the phantom's asymmetry
    along that axis points the same way in both; -1: one of them is flipped.
    """

    def odd_part(image: np.ndarray) -> np.ndarray:
        return image - np.roll(np.flip(image, axis), 1, axis)

    return float(np.corrcoef(odd_part(shown).ravel(), odd_part(drawn).ravel())[0, 1])


def test_the_transverse_phantom_is_upright_as_the_pacs_displays_it(tmp_path: Path) -> None:
    scan = simulate(ScanSettings(matrix=(SIZE, SIZE, 1), coils=4))
    raw = write_ve(scan, tmp_path / "scan.dat")
    (file,) = reconstruct_file(raw, tmp_path / "dicom", task_id="upright")
    ds = pydicom.dcmread(file)

    row, column = orientation(ds)  # screen left to right, top to bottom, in LPS
    assert row[0] > 0.9  # towards the patient's left: the patient's right is on the left
    assert column[1] > 0.9  # towards posterior: anterior is at the top

    shown = ds.pixel_array.astype(np.float64)
    drawn = _drawn_on_the_pixel_grid(SIZE)
    top_bottom = _asymmetry_agreement(shown, drawn, axis=0)
    left_right = _asymmetry_agreement(shown, drawn, axis=1)
    print(
        f"\nagreement with scikit-image: top-bottom {top_bottom:.3f}, left-right {left_right:.3f}"
    )
    assert top_bottom > 0.8
    assert left_right > 0.8
