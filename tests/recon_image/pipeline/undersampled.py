"""Undersampled phantom scans with reference lines, as the readers return them, and references."""

from __future__ import annotations

import dataclasses

import numpy as np

from recon_image.raw.kspace import KSpace, Reference
from scripts.phantoms.scan import ScanSettings, SimulatedScan, simulate


def undersampled(**settings: object) -> tuple[SimulatedScan, KSpace]:
    """A simulated scan and the k-space a reader makes of it (reference block included)."""
    scan = simulate(ScanSettings(**settings))  # type: ignore[arg-type]
    assert scan.reference is not None
    z0, line0 = scan.reference_first
    reference = Reference(
        data=scan.reference.copy(),
        first_line=line0,
        first_z=z0,
        sampled=np.ones(scan.reference.shape[1:3], dtype=bool),
    )
    kspace = KSpace(
        data=scan.kspace.copy(),
        sampled=scan.sampled.copy(),
        noise=scan.noise,
        protocol=scan.protocol,
        reference=reference,
    )
    return scan, kspace


def zero_filled(kspace: KSpace) -> np.ndarray:
    """Root-sum-of-squares of the zero-filled k-space (volumes, z, rows, cols), numpy only."""
    axes = (-2, -1) if kspace.protocol.dimension == 2 else (-3, -2, -1)
    images = np.fft.fftshift(
        np.fft.ifftn(np.fft.ifftshift(kspace.data, axes=axes), axes=axes), axes=axes
    )
    columns = kspace.protocol.matrix[0]
    start = images.shape[-1] // 2 - columns // 2
    images = images[..., start : start + columns]
    return np.sqrt(np.sum(np.abs(images) ** 2, axis=1))


def unaccelerated(kspace: KSpace) -> KSpace:
    """``kspace`` marked as not accelerated, for the plain Cartesian reconstruction."""
    protocol = dataclasses.replace(kspace.protocol, acceleration=(1, 1))
    return dataclasses.replace(kspace, protocol=protocol)
