"""3D GRAPPA for data accelerated along lines and partitions, CAIPIRINHA shifts included.

The acquired (partition, line) positions of a 2D-accelerated 3D scan repeat
with the unit cell (Rz, Ry); CAIPIRINHA shifts the partitions sampled on
successive acquired lines, which only changes which cells of the unit cell
are acquired. The pattern is read off the sampling mask, so any shift works.

Every skipped cell of the unit cell has its own kernel: the acquired
positions within a (Rz + 1) x (Ry + 1) window around it (the same for every
occurrence of the cell, the pattern being periodic) times ``columns`` readout
samples, every coil. Its weights are fitted by Tikhonov-regularised least
squares on the fully sampled 3D reference block and applied in chunks of
target positions, so memory stays a few tens of MiB beyond the k-space.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from recon_image.errors import BadInput
from recon_image.pipeline.threads import run_each
from recon_image.raw.kspace import KSpace

_PATCH_BYTES = 32 << 20
_ROWS_PER_UNKNOWN = 20  # training rows kept per unknown weight, spread over the block


@dataclass(frozen=True)
class Grappa3dOptions:
    """Readout columns of each kernel and the relative Tikhonov weight."""

    columns: int = 5
    regularisation: float = 1e-3


def unit_cell(sampled: np.ndarray, acceleration: tuple[int, int]) -> np.ndarray:
    """(Rz, Ry * Rz) bool: which cells of the repeating unit the mask acquires (by majority).

    With a CAIPIRINHA shift the pattern repeats only after Rz acquired lines,
    hence the unit's Ry * Rz lines.
    """
    rz, ry = acceleration
    ry = ry * rz
    cell = np.zeros((rz, ry), dtype=bool)
    for a in range(rz):
        for b in range(ry):
            block = sampled[a::rz, b::ry]
            cell[a, b] = block.size > 0 and block.mean() > 0.5
    if not cell.any():
        raise BadInput("the sampling mask repeats no acquired position; the data is not 3D GRAPPA")
    return cell


def _sources(
    cell: np.ndarray, target: tuple[int, int], acceleration: tuple[int, int]
) -> list[tuple[int, int]]:
    """Acquired (dz, dy) offsets in the (Rz + 1) x (Ry + 1) window around the cell ``target``."""
    rz, ry = acceleration
    cz, cy = cell.shape
    out = []
    for dz in range(-(rz // 2 + rz % 2), rz // 2 + 1):
        for dy in range(-(ry // 2 + ry % 2), ry // 2 + 1):
            if cell[(target[0] + dz) % cz, (target[1] + dy) % cy]:
                out.append((dz, dy))
    return out


def _gather(
    block: np.ndarray,
    z: np.ndarray,
    y: np.ndarray,
    offsets: list[tuple[int, int]],
    columns: np.ndarray,
    x: np.ndarray,
) -> np.ndarray:
    """(len(z) * len(x), coils * sources * columns) kernels of a padded block (coils, z, y, x)."""
    coils = block.shape[0]
    parts = [block[:, z + dz, y + dy][:, :, x[:, None] + columns[None, :]] for dz, dy in offsets]
    stacked = np.stack(parts, axis=2)  # (coils, targets, sources, x, columns)
    return stacked.transpose(1, 3, 0, 2, 4).reshape(-1, coils * len(offsets) * columns.size)


def _gather_rows(
    block: np.ndarray,
    z: np.ndarray,
    y: np.ndarray,
    offsets: list[tuple[int, int]],
    columns: np.ndarray,
    x: np.ndarray,
) -> np.ndarray:
    """(len(z), coils * sources * columns): the kernel of each (z[i], y[i], x[i])."""
    coils = block.shape[0]
    parts = [
        block[:, (z + dz)[:, None], (y + dy)[:, None], x[:, None] + columns[None, :]]
        for dz, dy in offsets
    ]
    stacked = np.stack(parts, axis=2)  # (coils, rows, sources, columns)
    return stacked.transpose(1, 0, 2, 3).reshape(z.size, coils * len(offsets) * columns.size)


def reconstruct_kspace(
    kspace: KSpace, options: Grappa3dOptions = Grappa3dOptions(), *, threads: int = 1
) -> KSpace:
    """``kspace`` (3D, accelerated along lines and partitions) filled in place, unaccelerated."""
    protocol = kspace.protocol
    if protocol.dimension != 3:
        raise BadInput("3D GRAPPA needs a 3D measurement")
    reference = kspace.reference
    if reference is None:
        raise BadInput(
            "the measurement is accelerated but holds no reference (PATREFSCAN) lines to"
            " calibrate GRAPPA from; acquire reference lines"
        )
    ry, rz = protocol.acceleration
    cell = unit_cell(kspace.sampled, (rz, ry))
    half = options.columns // 2
    columns = np.arange(options.columns) - half
    pz, py = rz, ry
    ref = reference.data[:, :, :, :]
    ref_sampled = reference.sampled
    if not ref_sampled.all():
        raise BadInput("the 3D reference block is not fully sampled; GRAPPA cannot calibrate")
    coils, rz_n, ry_n, width = ref.shape
    padded_ref = np.zeros(
        (coils, rz_n + 2 * pz, ry_n + 2 * py, width + options.columns - 1), dtype=np.complex64
    )
    padded_ref[:, pz : pz + rz_n, py : py + ry_n, half : half + width] = ref
    targets = [(a, b) for a in range(cell.shape[0]) for b in range(cell.shape[1]) if not cell[a, b]]
    weights: dict[tuple[int, int], tuple[list[tuple[int, int]], np.ndarray]] = {}
    for target in targets:
        offsets = _sources(cell, target, (rz, ry))
        if not offsets:
            raise BadInput(f"no acquired neighbour of the skipped cell {target}; cannot fill it")
        span_z = max(abs(dz) for dz, _ in offsets)
        span_y = max(abs(dy) for _, dy in offsets)
        zs = np.arange(span_z, rz_n - span_z) + pz
        ys = np.arange(span_y, ry_n - span_y) + py
        if zs.size == 0 or ys.size == 0:
            raise BadInput(
                f"the {rz_n} x {ry_n} reference block is too small for acceleration {ry}x{rz};"
                " acquire more reference lines and partitions"
            )
        grid_z, grid_y = (g.ravel() for g in np.meshgrid(zs, ys, indexing="ij"))
        unknowns = coils * len(offsets) * options.columns
        # a repeatable, evenly spread subset of the (position, column) training rows
        rows = grid_z.size * width
        keep = min(rows, _ROWS_PER_UNKNOWN * unknowns)
        chosen = np.sort(np.random.default_rng(0).choice(rows, size=keep, replace=False))
        where, xs = np.divmod(chosen, width)
        patches = _gather_rows(
            padded_ref, grid_z[where], grid_y[where], offsets, columns, xs + half
        )
        truth = padded_ref[:, grid_z[where], grid_y[where], xs + half].T
        adjoint = patches.conj().T
        normal = (adjoint @ patches).astype(np.complex128)
        scale = options.regularisation * float(np.real(np.trace(normal))) / normal.shape[0]
        normal[np.diag_indices_from(normal)] += scale
        solved = np.linalg.solve(normal, (adjoint @ truth).astype(np.complex128))
        weights[target] = (offsets, solved.astype(np.complex64))
    data = kspace.data
    volumes, _, nz, ny, nx = data.shape
    for v in range(volumes):
        padded = np.zeros((coils, nz + 2 * pz, ny + 2 * py, nx + options.columns - 1), np.complex64)
        padded[:, pz : pz + nz, py : py + ny, half : half + nx] = data[v]
        volume = data[v]

        def fill(
            target: tuple[int, int], padded: np.ndarray = padded, volume: np.ndarray = volume
        ) -> None:
            offsets, matrix = weights[target]
            z, y = np.meshgrid(
                np.arange(target[0], nz, cell.shape[0]),
                np.arange(target[1], ny, cell.shape[1]),
                indexing="ij",
            )
            z, y = z.ravel(), y.ravel()
            skipped = ~kspace.sampled[z, y]
            z, y = z[skipped], y[skipped]
            per_target = nx * matrix.shape[0] * 8
            chunk = max(1, _PATCH_BYTES // per_target)
            xs = np.arange(nx) + half
            for begin in range(0, z.size, chunk):
                zc, yc = z[begin : begin + chunk], y[begin : begin + chunk]
                patches = _gather(padded, zc + pz, yc + py, offsets, columns, xs)
                values = (patches @ matrix).reshape(zc.size, nx, coils)
                volume[:, zc, yc] = values.transpose(2, 0, 1)

        run_each(fill, targets, threads)
    sampled = np.ones_like(kspace.sampled)
    return dataclasses.replace(
        kspace, sampled=sampled, protocol=dataclasses.replace(protocol, acceleration=(1, 1))
    )
