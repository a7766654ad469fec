"""Readouts into the dense k-space model: placement by counters, reflection, averaging, geometry.

Planning (``plan_layout``) decides every readout's place and the dense shape
without touching a sample, so the caller can check memory before
``assemble`` allocates. Lines, partitions and columns are placed by the
k-space centre the scan headers name, so index ``n // 2`` is k = 0; 2D slices
are put in spatial order along the slice normal (the slice counter follows
the acquisition order, which interleaves).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from recon_image.errors import RawDataError
from recon_image.raw import large_arrays
from recon_image.raw.kspace import KSpace, Reference, SliceGeometry, VolumeLabel
from recon_image.raw.readouts import Flag, RawMeasurement, has_flag, imaging, reference

_CHUNK = 2048  # readouts copied per step: bounds the temporary copy of raw samples
_MIN_RUN = 8  # readouts per run, on average, for copying runs straight into the k-space
_DEFAULT_AXES = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


@dataclass
class Layout:
    """Where each imaging readout goes in the dense k-space, and that array's shape.

    Attributes
    ----------
    shape
        (volumes, coils, z, lines, columns).
    rows
        Table rows of the imaging readouts.
    volume, z, line, column
        Per imaging readout: its volume, slice/partition, line and first column.
    rank
        Per imaging readout: how many earlier readouts share its place (averages).
    labels
        One VolumeLabel per volume.
    slice_rows
        For 2D, one table row per slice in spatial order (its geometry); for 3D one row.
    noise_rows
        Table rows of the noise-adjustment readouts.
    """

    shape: tuple[int, int, int, int, int]
    rows: np.ndarray
    volume: np.ndarray
    z: np.ndarray
    line: np.ndarray
    column: np.ndarray
    rank: np.ndarray
    labels: tuple[VolumeLabel, ...]
    slice_rows: np.ndarray
    noise_rows: np.ndarray

    @property
    def nbytes(self) -> int:
        """Bytes of the dense complex64 k-space."""
        return int(np.prod(self.shape, dtype=np.float64)) * 8


def plan_layout(measurement: RawMeasurement) -> Layout:
    """Place every imaging readout of ``measurement``; raises RawDataError on inconsistent data."""
    table = measurement.readouts
    protocol = measurement.protocol
    name = str(measurement.path)
    rows = np.flatnonzero(imaging(table))
    if rows.size == 0:
        raise RawDataError(name, None, "the measurement holds no imaging readouts")
    scans = table[rows]
    channels = np.unique(scans["channels"])
    if channels.size != 1:
        raise RawDataError(
            name,
            None,
            f"imaging readouts have different channel counts {channels.tolist()}; "
            "one coil configuration per measurement is expected",
        )
    columns = max(
        round(protocol.matrix[0] * protocol.readout_oversampling), int(scans["samples"].max())
    )
    lines = protocol.matrix[1]
    line = scans["lin"].astype(np.int64) - scans["centre_line"] + lines // 2
    column = columns // 2 - scans["centre_column"].astype(np.int64)
    _check_range(name, scans, "lin", line, lines, "line")
    overflow = (column < 0) | (column + scans["samples"] > columns)
    if overflow.any():
        first = int(np.flatnonzero(overflow)[0])
        raise RawDataError(
            name,
            None,
            f"a readout of {int(scans['samples'][first])} samples centred at column "
            f"{int(scans['centre_column'][first])} does not fit the protocol's {columns} "
            "readout columns; the header and the data disagree",
        )

    if protocol.dimension == 3:
        partitions = protocol.matrix[2]
        z = scans["par"].astype(np.int64) - scans["centre_partition"] + partitions // 2
        _check_range(name, scans, "par", z, partitions, "partition")
        slice_rows = rows[:1]
    else:
        partitions = 0
        slice_ids, first = np.unique(scans["sli"], return_index=True)
        normal = _unit(scans["slice_dir"][first[0]], _DEFAULT_AXES[2])
        distance = scans["position"][first].astype(np.float64) @ np.asarray(normal)
        order = np.argsort(distance, kind="stable")
        spatial = np.empty(slice_ids.size, dtype=np.int64)
        spatial[order] = np.arange(slice_ids.size)
        z = spatial[np.searchsorted(slice_ids, scans["sli"])]
        slice_rows = rows[first[order]]

    volume_keys = np.stack([scans[key] for key in ("eco", "phs", "rep", "set")], axis=1)
    unique_volumes, volume = np.unique(volume_keys, axis=0, return_inverse=True)
    volume = volume.reshape(-1)
    labels = tuple(VolumeLabel(*(int(v) for v in key)) for key in unique_volumes)
    nz = partitions if protocol.dimension == 3 else slice_rows.size
    shape = (len(labels), int(channels[0]), nz, lines, columns)
    place = (volume * nz + z) * lines + line
    return Layout(
        shape=shape,
        rows=rows,
        volume=volume,
        z=z,
        line=line,
        column=column,
        rank=_rank(place),
        labels=labels,
        slice_rows=slice_rows,
        noise_rows=np.flatnonzero(has_flag(table, Flag.NOISEADJSCAN)),
    )


def assemble(measurement: RawMeasurement, layout: Layout) -> KSpace:
    """Allocate the dense k-space of ``layout`` and fill it from the readouts' samples."""
    table = measurement.readouts
    # aligned, so FFTW's plans run on it in place (numpy's own allocations start 16 bytes past
    # a page: every transform went through a copy), and in huge pages
    data = large_arrays.zeros(layout.shape)
    counts = np.zeros((layout.shape[0], *layout.shape[2:4]), dtype=np.int32)
    np.add.at(counts, (layout.volume, layout.z, layout.line), 1)
    # a readout alone at its place is copied there; repeats are summed, then averaged
    alone = counts[layout.volume, layout.z, layout.line] == 1
    reflect = has_flag(table[layout.rows], Flag.REFLECT)
    samples = table["samples"][layout.rows]
    # readouts of one length and one first column are copied together, a chunk at a time
    groups = np.stack([samples.astype(np.int64), layout.column], axis=1)
    kinds, group = np.unique(groups, axis=0, return_inverse=True)
    group = group.reshape(-1)
    for index, (length, start) in enumerate(kinds):
        members = np.flatnonzero(group == index)
        if alone[members].all() and _copy_runs(measurement, layout, members, data, start, length):
            continue
        for begin in range(0, members.size, _CHUNK):
            chosen = members[begin : begin + _CHUNK]
            block = measurement.samples.read(layout.rows[chosen])
            flipped = reflect[chosen]
            if flipped.any():
                block[flipped] = block[flipped, :, ::-1]
            v, z, line = layout.volume[chosen], layout.z[chosen], layout.line[chosen]
            single = alone[chosen]
            if single.all():
                data[v, :, z, line, start : start + length] = block
                continue
            at = single
            data[v[at], :, z[at], line[at], start : start + length] = block[at]
            rank = np.where(single, -1, layout.rank[chosen])
            for r in np.unique(rank[~single]):
                at = rank == r
                data[v[at], :, z[at], line[at], start : start + length] += block[at]
    repeated = counts > 1
    if repeated.any():
        scale = np.where(repeated, 1.0 / np.maximum(counts, 1), 1.0).astype(np.float32)
        data *= scale[:, None, :, :, None]
    protocol = measurement.protocol
    geometry = _geometry(measurement, layout)
    spacing = protocol.slice_spacing_mm
    if protocol.dimension == 2 and len(geometry) > 1:
        normal = np.asarray(geometry[0].slice_dir)
        distance = np.asarray([g.position_mm for g in geometry]) @ normal
        spacing = float(np.median(np.diff(distance)))
    protocol = dataclasses.replace(protocol, slices=geometry, slice_spacing_mm=spacing)
    return KSpace(
        data=data,
        sampled=counts.any(axis=0),
        noise=_noise(measurement, layout),
        protocol=protocol,
        volumes=layout.labels,
        reference=_reference(measurement, layout),
    )


def _copy_runs(
    measurement: RawMeasurement,
    layout: Layout,
    members: np.ndarray,
    data: np.ndarray,
    start: int,
    length: int,
) -> bool:
    """Copy readouts each alone at its place straight into ``data``, run by run; False if unfit.

    A run is readouts of one volume and slice/partition on consecutive lines, as scanners
    acquire them: its place in ``data`` is one strided view, so its samples are copied once,
    from the file into the k-space, with no temporary block. Measurements whose readouts
    come in short runs (under :data:`_MIN_RUN` on average) are left to the block-wise copy.
    """
    v, z, line = layout.volume[members], layout.z[members], layout.line[members]
    breaks = np.flatnonzero((np.diff(v) != 0) | (np.diff(z) != 0) | (np.diff(line) != 1)) + 1
    if members.size < _MIN_RUN * (breaks.size + 1):
        return False
    reflect = has_flag(measurement.readouts[layout.rows[members]], Flag.REFLECT)
    for first, stop in zip([0, *breaks.tolist()], [*breaks.tolist(), members.size], strict=True):
        lines = slice(int(line[first]), int(line[first]) + stop - first)
        place = data[v[first], :, z[first], lines, start : start + length].transpose(1, 0, 2)
        measurement.samples.read(layout.rows[members[first:stop]], out=place)
        for at in np.flatnonzero(reflect[first:stop]):
            place[at] = place[at, :, ::-1].copy()
    return True


def sort_readouts(measurement: RawMeasurement) -> KSpace:
    """``assemble(measurement, plan_layout(measurement))``."""
    return assemble(measurement, plan_layout(measurement))


def _geometry(measurement: RawMeasurement, layout: Layout) -> tuple[SliceGeometry, ...]:
    table = measurement.readouts
    thickness = measurement.protocol.fov_mm[2]
    result = []
    for row in layout.slice_rows:
        scan = table[row]
        read = _unit(scan["read_dir"], _DEFAULT_AXES[0])
        phase = _unit(scan["phase_dir"], _DEFAULT_AXES[1])
        normal = _unit(scan["slice_dir"], _DEFAULT_AXES[2])
        position = tuple(float(x) for x in scan["position"])
        result.append(SliceGeometry(position, read, phase, normal, float(thickness)))
    return tuple(result)


def _reference(measurement: RawMeasurement, layout: Layout) -> Reference | None:
    """The reference block (PATREFSCAN and PATREFANDIMASCAN readouts) of the first volume.

    Reference readouts of other volumes (echoes, repetitions) are left out when
    the first volume has its own; repeats of one position are averaged.
    """
    table = measurement.readouts
    name = str(measurement.path)
    coils, columns = layout.shape[1], layout.shape[4]
    rows = np.flatnonzero(reference(table) & (table["channels"] == coils))
    if rows.size == 0:
        return None
    first = layout.labels[0]
    keys = np.stack([table[key][rows] for key in ("eco", "phs", "rep", "set")], axis=1)
    own = (keys == np.asarray([first.echo, first.phase, first.repetition, first.set])).all(1)
    if own.any():
        rows = rows[own]
    scans = table[rows]
    lines = layout.shape[3]
    line = scans["lin"].astype(np.int64) - scans["centre_line"] + lines // 2
    _check_range(name, scans, "lin", line, lines, "line")
    column = columns // 2 - scans["centre_column"].astype(np.int64)
    if ((column < 0) | (column + scans["samples"] > columns)).any():
        raise RawDataError(
            name, None, "a reference readout does not fit the imaging readout's columns"
        )
    if measurement.protocol.dimension == 3:
        partitions = layout.shape[2]
        z = scans["par"].astype(np.int64) - scans["centre_partition"] + partitions // 2
        _check_range(name, scans, "par", z, partitions, "partition")
        first_z, last_z = int(z.min()), int(z.max()) + 1
    else:
        counters = table["sli"][layout.rows]
        spatial = np.full(int(max(counters.max(), scans["sli"].max())) + 1, -1, dtype=np.int64)
        spatial[counters] = layout.z
        z = spatial[scans["sli"]]
        if (z < 0).any():
            raise RawDataError(
                name, None, "reference readouts name a slice that holds no imaging readouts"
            )
        first_z, last_z = 0, layout.shape[2]
    first_line, last_line = int(line.min()), int(line.max()) + 1
    block = (coils, last_z - first_z, last_line - first_line, columns)
    data = np.zeros(block, dtype=np.complex64)
    counts = np.zeros(block[1:3], dtype=np.int32)
    reflect = has_flag(scans, Flag.REFLECT)
    for length in np.unique(scans["samples"]):
        chosen = np.flatnonzero(scans["samples"] == length)
        for begin in range(0, chosen.size, _CHUNK):
            part = chosen[begin : begin + _CHUNK]
            samples = measurement.samples.read(rows[part])
            flipped = reflect[part]
            if flipped.any():
                samples[flipped] = samples[flipped, :, ::-1]
            for index, readout in zip(part, samples, strict=True):
                start = int(column[index])
                at = (slice(None), int(z[index]) - first_z, int(line[index]) - first_line)
                data[(*at, slice(start, start + int(length)))] += readout
                counts[at[1:]] += 1
    repeated = counts > 1
    if repeated.any():
        data /= np.maximum(counts, 1).astype(np.float32)[None, :, :, None]
    return Reference(data=data, first_line=first_line, first_z=first_z, sampled=counts > 0)


def _noise(measurement: RawMeasurement, layout: Layout) -> np.ndarray | None:
    rows = layout.noise_rows
    if rows.size == 0:
        return None
    table = measurement.readouts
    coils = layout.shape[1]
    rows = rows[table["channels"][rows] == coils]
    if rows.size == 0:
        return None
    parts = []
    for length in np.unique(table["samples"][rows]):
        chosen = rows[table["samples"][rows] == length]
        block = measurement.samples.read(chosen)
        parts.append(block.transpose(1, 0, 2).reshape(coils, -1))
    return np.concatenate(parts, axis=1)


def _unit(vector: np.ndarray, default: tuple[float, float, float]) -> tuple[float, float, float]:
    """``vector`` normalised, or ``default`` where the header left it zero."""
    values = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(values))
    if norm < 1e-6:
        return default
    values = values / norm
    values[np.abs(values) < 1e-7] = 0.0
    return (float(values[0]), float(values[1]), float(values[2]))


def _rank(place: np.ndarray) -> np.ndarray:
    """For each entry, how many earlier entries have the same ``place``."""
    order = np.argsort(place, kind="stable")
    ordered = place[order]
    first = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[first, ordered.size])
    ranks_sorted = np.arange(ordered.size) - np.repeat(first, sizes)
    rank = np.empty_like(ranks_sorted)
    rank[order] = ranks_sorted
    return rank


def _check_range(
    name: str, scans: np.ndarray, field: str, index: np.ndarray, size: int, what: str
) -> None:
    bad = (index < 0) | (index >= size)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise RawDataError(
            name,
            None,
            f"a readout's {what} ({field} = {int(scans[field][first])}, "
            f"placed at {int(index[first])}) "
            f"lies outside the protocol's {size} {what}s; the header and the data disagree",
        )
