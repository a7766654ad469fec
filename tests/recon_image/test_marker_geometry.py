"""A marker off the centre of a phantom lands in the DICOM where the TWIX header puts it.

The phantom writer places a bright cube at a known voxel of the true image and
writes the scan in the scanner's conventions; twixtools.geometry alone says
where that voxel lies in patient coordinates, and the worker's DICOM (its
ImagePositionPatient, ImageOrientationPatient and PixelSpacing) must put the
reconstructed cube there, in every orientation, 2D multi-slice and 3D.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
import twixtools

from recon_image.programs.cartesian import reconstruct_file
from scripts.phantoms.scan import ScanSettings, Vector, marker_voxel, simulate
from scripts.phantoms.twix_ve import write_ve
from tests.recon_image.dicom_geometry import angle_deg, orientation, pixel_centres


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def _double_oblique(normal: Vector, in_plane_deg: float) -> tuple[Vector, Vector]:
    """(read, phase) of a slice with ``normal``, turned ``in_plane_deg`` about it."""
    n = _unit(np.asarray(normal, dtype=np.float64))
    read = _unit(np.cross((0.0, 1.0, 0.0), n))
    phase = np.cross(n, read)  # phase x read = n, Siemens' normal
    t = np.deg2rad(in_plane_deg)
    turned_read = np.cos(t) * read + np.sin(t) * phase
    turned_phase = np.cross(n, turned_read)
    return tuple(turned_read.tolist()), tuple(turned_phase.tolist())  # type: ignore[return-value]


ORIENTATIONS: dict[str, tuple[Vector, Vector]] = {
    "transverse": ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
    "sagittal": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "double-oblique, turned 30 deg in plane": _double_oblique((0.35, -0.45, 0.82), 30.0),
}


def _settings(axes: tuple[Vector, Vector], dimension: int) -> ScanSettings:
    return ScanSettings(
        dimension=dimension,  # type: ignore[arg-type]
        matrix=(32, 24, 4 if dimension == 2 else 8),
        fov_mm=(192.0, 120.0),  # 6 mm columns, 5 mm rows: a swap shows
        thickness_mm=4.0,
        coils=2,
        centre_mm=(12.0, -20.0, 35.0),
        axes=axes,
        marker=True,
    )


def _header_geometry(path: Path, settings: ScanSettings) -> tuple[np.ndarray, np.ndarray]:
    """Where twixtools.geometry puts the marker's centre voxel, and the slice's sNormal."""
    z, line, column = marker_voxel(settings)
    geometries = twixtools.read_twix(str(path), verbose=False)[-1]["geometry"]
    geometry = geometries[z] if settings.dimension == 2 else geometries[0]
    nx, ny, nz = settings.matrix
    index = np.array(
        [column - nx // 2, line - ny // 2, z - nz // 2 if settings.dimension == 3 else 0]
    )
    rps = index * np.asarray(geometry.voxelsize, dtype=np.float64)
    position = np.asarray(geometry.offset) + geometry.prs_to_pcs() @ geometry.rps_to_prs() @ rps
    return position, np.asarray(geometry.normal)


def _marker_position(datasets: list[pydicom.Dataset]) -> np.ndarray:
    """Intensity-weighted centre of the marker, from each image's own geometry.

    The marker is the voxels above half the brightest one within two voxels of it.
    """
    pixels = np.stack([d.pixel_array.astype(np.float64) for d in datasets])
    centres = np.stack([pixel_centres(d) for d in datasets])
    peak = np.unravel_index(int(np.argmax(pixels)), pixels.shape)
    around = tuple(slice(max(0, p - 2), p + 3) for p in peak)
    weights = np.where(pixels[around] > pixels[peak] / 2, pixels[around], 0.0)
    return np.sum(weights[..., None] * centres[around], axis=(0, 1, 2)) / weights.sum()


@pytest.mark.parametrize("dimension", [2, 3], ids=["2D multi-slice", "3D"])
@pytest.mark.parametrize("name", list(ORIENTATIONS))
def test_the_marker_lands_where_the_header_puts_it(tmp_path: Path, name: str, dimension: int):
    settings = _settings(ORIENTATIONS[name], dimension)
    scan = simulate(settings)
    raw = write_ve(scan, tmp_path / "scan.dat")
    expected, s_normal = _header_geometry(raw, settings)

    files = reconstruct_file(raw, tmp_path / "dicom", task_id="marker")

    datasets = sorted((pydicom.dcmread(f) for f in files), key=lambda d: int(d.InstanceNumber))
    assert datasets
    for ds in datasets:
        assert angle_deg(np.cross(*orientation(ds)), s_normal) < 0.5
    found = _marker_position(datasets)
    miss = float(np.linalg.norm(found - expected))
    print(
        f"\n{name}, {dimension}D: marker at {np.round(found, 3)} mm, {miss:.4f} mm from twixtools"
    )
    assert miss < 0.1
