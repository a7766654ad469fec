"""GRAPPA: skipped phase-encoding lines synthesised from their acquired neighbours in k-space.

Calibration fits, by Tikhonov-regularised least squares on the fully sampled
reference block, one set of weights that maps a kernel of acquired samples
(``kernel[0]`` acquired lines x ``kernel[1]`` columns, every coil) to every
skipped line between them (all R - 1 offsets at once, every coil). Applying
the weights is one matrix product per chunk of kernel patches: the patches are
gathered from the acquired lattice of lines as strided views and copied a
chunk at a time, so memory stays a few tens of MiB whatever the matrix.

2D multi-slice data is calibrated and filled slice by slice; 3D data
accelerated along the phase axis only is first transformed along the
partitions, which makes every partition a 2D problem of its own; 3D data
accelerated along both axes goes to :mod:`grappa_3d`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from recon_image.errors import BadInput
from recon_image.pipeline import fft
from recon_image.pipeline.threads import run_each
from recon_image.raw.kspace import KSpace, Reference

_PATCH_BYTES = 32 << 20  # kernel patches copied per matrix product


@dataclass(frozen=True)
class GrappaOptions:
    """How to calibrate and apply GRAPPA.

    Attributes
    ----------
    kernel
        (acquired lines, columns) of each kernel; 2 x 5 is the usual choice.
    regularisation
        Tikhonov weight relative to the mean eigenvalue of the calibration
        normal matrix: larger is more robust to noise, smaller more exact.
    """

    kernel: tuple[int, int] = (2, 5)
    regularisation: float = 1e-4


@dataclass
class Weights:
    """Calibrated GRAPPA weights of one slice.

    Attributes
    ----------
    matrix
        (coils * kernel lines * kernel columns, (R - 1) * coils) complex64.
    acceleration
        R along the phase axis.
    kernel
        (acquired lines, columns).
    options
        The options they were fitted with.
    normal, right
        The calibration's normal equations, for the kernels cut at the ends
        of k-space: a gap next to an edge has fewer neighbours, and weights
        fitted to those alone (made on first use) beat zeros in place of the
        rest.
    """

    matrix: np.ndarray
    acceleration: int
    options: GrappaOptions
    normal: np.ndarray
    right: np.ndarray
    cut: dict[tuple[tuple[int, ...], tuple[int, ...]], np.ndarray] = field(default_factory=dict)

    @property
    def kernel(self) -> tuple[int, int]:
        return self.options.kernel

    @property
    def source_offsets(self) -> np.ndarray:
        """Lattice steps of the kernel's source lines relative to the line before the gap."""
        return _centred(self.kernel[0], (self.kernel[0] - 1) // 2)

    @property
    def column_offsets(self) -> np.ndarray:
        """Columns of the kernel relative to the target column."""
        return _centred(self.kernel[1], self.kernel[1] // 2)

    def cut_matrix(self, steps: tuple[int, ...], columns: tuple[int, ...]) -> np.ndarray:
        """Weights of the kernel keeping only lattice ``steps`` and ``columns`` offsets.

        The cut kernel's normal equations are a sub-block of the full kernel's
        (same training positions), so each costs one small solve.
        """
        key = (steps, columns)
        if key not in self.cut:
            all_steps = [int(k) for k in self.source_offsets]
            all_columns = [int(k) for k in self.column_offsets]
            lines, width = len(all_steps), len(all_columns)
            coils = self.normal.shape[0] // (lines * width)
            keep = np.asarray(
                [
                    (c * lines + all_steps.index(j)) * width + all_columns.index(d)
                    for c in range(coils)
                    for j in steps
                    for d in columns
                ]
            )
            self.cut[key] = _solve(
                self.normal[np.ix_(keep, keep)], self.right[keep], self.options.regularisation
            )
        return self.cut[key]


def _centred(size: int, before: int) -> np.ndarray:
    return np.arange(size) - before


def _check_kernel(kernel: tuple[int, int]) -> None:
    if kernel[0] < 1 or kernel[1] < 1:
        raise BadInput(f"the GRAPPA kernel {kernel} needs at least 1 line and 1 column")


def calibrate(
    reference: np.ndarray, acceleration: int, options: GrappaOptions = GrappaOptions()
) -> Weights:
    """Fit the weights of one slice from its fully sampled reference block (coils, lines, cols).

    Raises
    ------
    BadInput
        When the reference block is too small for the kernel at this acceleration.
    """
    _check_kernel(options.kernel)
    if acceleration < 2:
        raise BadInput("GRAPPA needs an acceleration of at least 2")
    block = np.ascontiguousarray(reference, dtype=np.complex64)
    steps = _centred(options.kernel[0], (options.kernel[0] - 1) // 2)
    columns = _centred(options.kernel[1], options.kernel[1] // 2)
    normal, right = _normal_equations(block, acceleration, steps, columns, options)
    return Weights(
        matrix=_solve(normal, right, options.regularisation),
        acceleration=acceleration,
        options=options,
        normal=normal,
        right=right,
    )


def _patches(
    block: np.ndarray, lines: np.ndarray, steps: np.ndarray, columns: np.ndarray, at: np.ndarray
) -> np.ndarray:
    """(len(lines) * len(at), coils * steps * columns): kernels of ``block`` (coils, rows, cols).

    Kernel k of line ``lines[i]`` and column ``at[j]`` reads rows ``lines[i] + steps`` and
    columns ``at[j] + columns``.
    """
    coils = block.shape[0]
    rows = block[:, lines[:, None] + steps[None, :]]  # (coils, lines, steps, cols)
    gathered = rows[..., at[:, None] + columns[None, :]]  # (coils, lines, steps, at, columns)
    return gathered.transpose(1, 3, 0, 2, 4).reshape(-1, coils * steps.size * columns.size)


def _normal_equations(
    block: np.ndarray,
    acceleration: int,
    steps: np.ndarray,
    columns: np.ndarray,
    options: GrappaOptions,
) -> tuple[np.ndarray, np.ndarray]:
    """(A^H A, A^H B) from the sources at lattice ``steps`` to the R - 1 gap lines."""
    _, lines, width = block.shape
    offsets = steps * acceleration
    low, high = int(offsets.min()), int(offsets.max())
    first, last = -low, lines - max(high, acceleration - 1)
    left, right = -int(columns.min()), width - int(columns.max())
    if last <= first or right <= left:
        raise BadInput(
            f"the {lines} reference lines are too few for a {options.kernel[0]}x"
            f"{options.kernel[1]} GRAPPA kernel at acceleration {acceleration}; choose a smaller"
            f" kernel or acquire at least {high - low + acceleration} reference lines"
        )
    positions = np.arange(first, last)
    at = np.arange(left, right)
    patches = _patches(block, positions, offsets, columns, at)
    targets_at = positions[:, None] + np.arange(1, acceleration)[None, :]
    targets = block[:, targets_at][..., at]  # (coils, positions, R - 1, at)
    targets = targets.transpose(1, 3, 2, 0).reshape(patches.shape[0], -1)
    adjoint = patches.conj().T
    return (adjoint @ patches).astype(np.complex128), (adjoint @ targets).astype(np.complex128)


def _solve(normal: np.ndarray, right: np.ndarray, regularisation: float) -> np.ndarray:
    """Tikhonov-regularised solution, the weight relative to the mean eigenvalue."""
    scale = regularisation * float(np.real(np.trace(normal))) / normal.shape[0]
    system = normal + scale * np.eye(normal.shape[0])
    return np.linalg.solve(system, right).astype(np.complex64)


def lattice_offset(sampled: np.ndarray, acceleration: int) -> int:
    """The first line of the regular lattice of acquired lines (every R-th) in ``sampled``."""
    counts = [int(sampled[o::acceleration].sum()) for o in range(acceleration)]
    return int(np.argmax(counts))


def fill(data: np.ndarray, sampled: np.ndarray, weights: Weights) -> np.ndarray:
    """Synthesise the skipped lines of one slice (coils, lines, columns) in place.

    Lines already acquired (``sampled``, e.g. integrated reference lines) are
    kept as measured; lines before the first acquired line (partial Fourier)
    stay zero.
    """
    coils, lines, columns = data.shape
    r = weights.acceleration
    kernel_lines, kernel_columns = weights.kernel
    acquired = np.flatnonzero(sampled)
    if acquired.size == 0:
        return data
    start = lattice_offset(sampled, r)
    low = int(acquired.min())
    # Without partial Fourier the lines before the first lattice line are filled too,
    # from a lattice line before the matrix (zero).
    if low < r and start > 0:
        start -= r
        low = start
    lattice = np.arange(start, lines, r)
    inside = lattice >= 0
    steps, offsets = weights.source_offsets, weights.column_offsets
    before, after = -int(steps.min()), int(steps.max())
    pad_left = -int(offsets.min())
    padded = np.zeros(
        (coils, lattice.size + before + after, columns + kernel_columns - 1), dtype=np.complex64
    )
    rows = padded[:, before : before + lattice.size]
    rows[:, inside, pad_left : pad_left + columns] = data[:, lattice[inside]]
    windows = np.lib.stride_tricks.sliding_window_view(
        padded, (kernel_lines, kernel_columns), axis=(1, 2)
    )
    # windows[:, i, x] is the kernel of the gap after lattice line i, centred on column x
    per_line = columns * weights.matrix.shape[0] * 8
    chunk = max(1, _PATCH_BYTES // per_line)
    for begin in range(0, lattice.size, chunk):
        stop = min(begin + chunk, lattice.size)
        patches = windows[:, begin:stop].transpose(1, 2, 0, 3, 4)
        patches = patches.reshape(-1, weights.matrix.shape[0])
        result = (patches @ weights.matrix).reshape(stop - begin, columns, r - 1, coils)
        _put(data, sampled, lattice, low, np.arange(begin, stop), np.arange(columns), result)
    _fill_edges(data, sampled, weights, lattice, low, padded, before, pad_left)
    return data


def _put(
    data: np.ndarray,
    sampled: np.ndarray,
    lattice: np.ndarray,
    low: int,
    which: np.ndarray,
    at: np.ndarray,
    result: np.ndarray,
) -> None:
    """Write ``result`` (lattice lines, columns, R - 1, coils) into the gaps it fills."""
    lines = data.shape[1]
    for o in range(1, result.shape[2] + 1):
        target = lattice[which] + o
        keep = (target >= 0) & (target < lines) & (lattice[which] >= low)
        keep &= ~sampled[np.clip(target, 0, lines - 1)]
        if keep.any():
            values = result[keep, :, o - 1].transpose(2, 0, 1)
            if at.size == data.shape[2]:
                data[:, target[keep]] = values
            else:
                data[:, target[keep][:, None], at[None, :]] = values


def _fill_edges(
    data: np.ndarray,
    sampled: np.ndarray,
    weights: Weights,
    lattice: np.ndarray,
    low: int,
    padded: np.ndarray,
    before: int,
    pad_left: int,
) -> None:
    """Refill the gaps whose kernel reaches past the acquired lattice or the readout's ends."""
    _, lines, columns = data.shape
    r = weights.acceleration
    steps, offsets = weights.source_offsets, weights.column_offsets
    valid = (lattice >= 0) & (lattice < lines) & (lattice >= low)
    index = np.arange(lattice.size)[:, None] + steps[None, :]
    inside = (index >= 0) & (index < lattice.size)
    inside[inside] = valid[index[inside]]
    line_keys = [tuple(int(k) for k in steps[row]) for row in inside]
    full_steps = tuple(int(k) for k in steps)
    x = np.arange(columns)[:, None] + offsets[None, :]
    column_ok = (x >= 0) & (x < columns)
    column_keys = [tuple(int(k) for k in offsets[row]) for row in column_ok]
    full_columns = tuple(int(k) for k in offsets)
    edge_columns = {c for c, key in enumerate(column_keys) if key != full_columns}
    groups: dict[tuple[tuple[int, ...], tuple[int, ...]], list[tuple[int, int]]] = {}
    for i, line_key in enumerate(line_keys):
        if lattice[i] < low or not line_key:
            continue
        at = range(columns) if line_key != full_steps else sorted(edge_columns)
        for c in at:
            column_key = column_keys[c]
            if line_key == full_steps and column_key == full_columns:
                continue
            groups.setdefault((line_key, column_key), []).append((i, c))
    for (line_key, column_key), members in groups.items():
        matrix = weights.cut_matrix(line_key, column_key)
        pairs = np.asarray(members)
        for i in np.unique(pairs[:, 0]):
            at = pairs[pairs[:, 0] == i, 1]
            patches = _patches(
                padded,
                np.asarray([i + before]),
                np.asarray(line_key),
                np.asarray(column_key),
                at + pad_left,
            )
            result = (patches @ matrix).reshape(1, at.size, r - 1, -1)
            _put(data, sampled, lattice, low, np.asarray([i]), at, result)


def _slice_reference(reference: Reference, z: int) -> np.ndarray:
    block = reference.data[:, z]
    rows = reference.sampled[z]
    if not rows.all():
        block = block[:, rows]
    return block


def reconstruct_kspace(
    kspace: KSpace, options: GrappaOptions = GrappaOptions(), *, threads: int = 1
) -> KSpace:
    """``kspace`` with its skipped lines filled in place, marked unaccelerated.

    3D data accelerated along the partitions too (CAIPIRINHA or not) goes
    to :mod:`grappa_3d`.

    Raises
    ------
    BadInput
        Without reference lines, or with a reference block too small for the kernel.
    """
    protocol = kspace.protocol
    r_line, r_par = protocol.acceleration
    if r_par > 1:
        from recon_image.pipeline import grappa_3d

        return grappa_3d.reconstruct_kspace(
            kspace,
            grappa_3d.Grappa3dOptions(
                columns=options.kernel[1], regularisation=max(options.regularisation, 1e-3)
            ),
            threads=threads,
        )
    if r_line < 2:
        return kspace
    if kspace.reference is None:
        raise BadInput(
            "the measurement is accelerated but holds no reference (PATREFSCAN) lines to"
            " calibrate GRAPPA from; acquire reference lines or choose a SENSE mode with"
            " separately measured coil sensitivities"
        )
    _check_kernel(options.kernel)
    reference = kspace.reference
    data = kspace.data
    three_d = protocol.dimension == 3
    if three_d:
        reference = _partitions_to_image(reference, data.shape[2], threads)
        for v in range(data.shape[0]):
            fft.centred(data[v], (1,), "backward", threads=threads)
    volumes, _, nz, lines, _ = data.shape
    slices = list(range(nz))

    def run(z: int) -> None:
        weights = calibrate(_slice_reference(reference, z), r_line, options)
        sampled = kspace.sampled[z] if not three_d else kspace.sampled.any(axis=0)
        for v in range(volumes):
            block = np.ascontiguousarray(data[v, :, z])
            data[v, :, z] = fill(block, sampled, weights)

    run_each(run, slices, threads)
    if three_d:
        for v in range(volumes):
            fft.centred(data[v], (1,), "forward", threads=threads)
    sampled = kspace.sampled.copy()
    for z in range(nz):
        acquired = np.flatnonzero(kspace.sampled[z] if not three_d else sampled.any(axis=0))
        if acquired.size:
            first = acquired.min() if acquired.min() >= r_line else 0
            sampled[z, first : min(lines, acquired.max() + r_line)] = True
    return dataclasses.replace(
        kspace,
        sampled=sampled,
        protocol=dataclasses.replace(protocol, acceleration=(1, 1)),
    )


def _partitions_to_image(reference: Reference, partitions: int, threads: int) -> Reference:
    """The reference block zero-filled to every partition and transformed along them."""
    coils, nz, lines, columns = reference.data.shape
    full = fft.empty_aligned((coils, partitions, lines, columns))
    full[...] = 0
    full[:, reference.first_z : reference.first_z + nz] = reference.data
    fft.centred(full, (1,), "backward", threads=threads)
    sampled = np.broadcast_to(reference.sampled.all(axis=0), (partitions, lines))
    return Reference(data=full, first_line=reference.first_line, first_z=0, sampled=sampled)
