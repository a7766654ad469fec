"""Phantom k-space for the pipeline tests: Shepp-Logan times coil maps, in the shared convention."""

from __future__ import annotations

import numpy as np

from recon_image.raw.kspace import KSpace, Protocol, SliceGeometry
from scripts.phantoms.numeric import coil_maps, oversample, shepp_logan, to_kspace


def protocol(dimension: int, shape: tuple[int, int, int], oversampling: float) -> Protocol:
    """A transverse protocol for images of ``shape`` = (z, lines, columns)."""
    z, lines, columns = shape
    count = 1 if dimension == 3 else z
    slices = tuple(
        SliceGeometry(
            position_mm=(0.0, 0.0, 4.0 * (i - count // 2)),
            read_dir=(1.0, 0.0, 0.0),
            phase_dir=(0.0, 1.0, 0.0),
            slice_dir=(0.0, 0.0, 1.0),
            thickness_mm=float(4 * z) if dimension == 3 else 3.0,
        )
        for i in range(count)
    )
    return Protocol(
        sequence_name="phantom",
        protocol_name="pipeline test",
        dimension=dimension,  # type: ignore[arg-type]
        matrix=(columns, lines, z if dimension == 3 else 1),
        fov_mm=(float(columns), float(lines), 4.0 * z),
        readout_oversampling=oversampling,
        partial_fourier=(1.0, 1.0),
        acceleration=(1, 1),
        slices=slices,
        slice_spacing_mm=4.0,
        tr_ms=10.0,
        te_ms=(5.0,),
        ti_ms=None,
        flip_deg=15.0,
        field_strength_t=3.0,
    )


def phantom_kspace(
    dimension: int,
    shape: tuple[int, int, int],
    coils: int,
    *,
    oversampling: int = 1,
    seed: int = 0,
    noise: np.ndarray | None = None,
) -> tuple[KSpace, np.ndarray]:
    """(k-space, truth): noise-free k-space of a Shepp-Logan phantom seen by ``coils`` coils.

    The truth is the phantom magnitude (z, lines, columns); the k-space is
    (1, coils, z, lines, columns * oversampling).
    """
    truth = shepp_logan(shape)
    wide = oversample(truth, oversampling) if oversampling > 1 else truth
    maps = coil_maps(coils, wide.shape, seed)
    axes = (1, 2, 3) if dimension == 3 else (2, 3)
    data = to_kspace(maps * wide[None], axes)[None]
    sampled = np.ones(shape[:2], dtype=bool)
    kspace = KSpace(
        data=np.ascontiguousarray(data),
        sampled=sampled,
        noise=noise,
        protocol=protocol(dimension, shape, float(oversampling)),
    )
    return kspace, truth
