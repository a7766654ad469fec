"""SENSE and compressed-sensing reconstructions of undersampled Cartesian k-space.

The measurement is cut into independent 2D problems: each slice of a 2D
scan (its lines x columns), or each readout position of a 3D scan after the
inverse FFT along the readout (its partitions x lines). Every problem gets
its own ESPIRiT maps from its part of the reference block and is solved by
CG-SENSE or L1-wavelet FISTA; problems run in parallel on threads, each with
its own operator and FFTW plans (reused from problem to problem).

Steps: prewhitening and coil compression (one coil-mixing matrix applied to
the k-space and the reference block) → readout transform and oversampling
removal, a coil at a time → the problems → magnitude images.

Memory: the k-space (overwritten) plus the cropped readout images (half of it
with 2x oversampling), plus per thread one problem's coil data and buffer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from recon_image.errors import BadInput, TooLarge
from recon_image.pipeline import coils as coil_ops
from recon_image.pipeline import fft
from recon_image.pipeline.compressed_sensing import CompressedSensingOptions, l1_wavelet
from recon_image.pipeline.operators import SenseOperator
from recon_image.pipeline.prewhiten import whitening_matrix
from recon_image.pipeline.sense import SenseOptions, cg_sense
from recon_image.pipeline.sensitivities import EspiritOptions, espirit, walsh
from recon_image.pipeline.threads import run_each
from recon_image.raw.kspace import KSpace

Method = Literal["sense", "cs"]


@dataclass(frozen=True)
class IterativeOptions:
    """Which method, its parameters, the maps (ESPIRiT or Walsh) and the coil preprocessing."""

    method: Method = "sense"
    sense: SenseOptions = field(default_factory=SenseOptions)
    cs: CompressedSensingOptions = field(default_factory=CompressedSensingOptions)
    espirit: EspiritOptions = field(default_factory=EspiritOptions)
    sensitivities: Literal["espirit", "walsh"] = "espirit"
    coil_compression: int | None = None
    prewhiten: bool = True


class _Problems:
    """The 2D problems of one volume of a 2D scan: one per slice, (lines, columns).

    ``images`` is the k-space (coils, z, lines, columns) without readout
    oversampling, ``reference`` the reference block likewise (coils, z,
    reference lines, columns) and ``rows`` its acquired lines per slice.
    """

    def __init__(
        self, images: np.ndarray, sampled: np.ndarray, reference: np.ndarray, rows: np.ndarray
    ) -> None:
        self.images, self.sampled, self.reference, self.rows = images, sampled, reference, rows
        self.count = images.shape[1]
        self.shape = (images.shape[2], images.shape[3])

    def kspace(self, index: int) -> np.ndarray:
        return self.images[:, index]

    def mask(self, index: int) -> np.ndarray:
        return np.broadcast_to(self.sampled[index][:, None], self.shape)

    def calibration(self, index: int) -> np.ndarray:
        return self.reference[:, index][:, self.rows[index]]

    def put(self, out: np.ndarray, index: int, image: np.ndarray) -> None:
        out[index] = image


class _Problems3D(_Problems):
    """The problems of a 3D volume: one per readout position, (partitions, lines).

    ``images`` is (coils, partitions, lines, x) after the readout transform,
    ``reference`` (coils, reference partitions, reference lines, x) and
    ``rows`` the fully acquired (partitions, lines) of the reference block.
    """

    def __init__(
        self,
        images: np.ndarray,
        sampled: np.ndarray,
        reference: np.ndarray,
        rows: tuple[np.ndarray, np.ndarray],
    ) -> None:
        self.images, self.sampled, self.reference = images, sampled, reference
        self.partitions, self.lines = rows
        self.count = images.shape[3]
        self.shape = (images.shape[1], images.shape[2])

    def kspace(self, index: int) -> np.ndarray:
        return self.images[..., index]

    def mask(self, index: int) -> np.ndarray:
        return self.sampled

    def calibration(self, index: int) -> np.ndarray:
        block = self.reference[..., index][:, self.partitions]
        return block[:, :, self.lines]

    def put(self, out: np.ndarray, index: int, image: np.ndarray) -> None:
        out[:, :, index] = image


def _check(kspace: KSpace, options: IterativeOptions) -> None:
    data = kspace.data
    if data.ndim != 5 or data.dtype != np.complex64:
        raise BadInput(
            f"k-space must be complex64 (volumes, coils, z, lines, columns), got {data.shape}"
        )
    if kspace.reference is None:
        raise BadInput(
            "the measurement holds no reference (PATREFSCAN) lines to estimate coil"
            " sensitivities from; acquire reference lines (separate or integrated)"
        )
    if options.method not in ("sense", "cs"):
        raise BadInput(f"unknown iterative method {options.method!r}; use sense or cs")
    if options.sensitivities not in ("espirit", "walsh"):
        raise BadInput(
            f"unknown coil sensitivities {options.sensitivities!r}; use espirit or walsh"
        )
    if options.coil_compression is not None and options.coil_compression < 1:
        raise BadInput("coil compression needs at least 1 virtual coil")


def _mixing(kspace: KSpace, options: IterativeOptions) -> np.ndarray | None:
    """The one coil-mixing matrix (whitening, then compression) or None."""
    assert kspace.reference is not None
    whitening = None
    if options.prewhiten and kspace.noise is not None and kspace.noise.shape[0] == kspace.coils:
        whitening = whitening_matrix(kspace.noise)
    wanted = options.coil_compression
    if wanted is None or wanted >= kspace.coils:
        return whitening
    samples = kspace.reference.data.reshape(kspace.coils, -1)
    if whitening is not None:
        samples = whitening @ samples
    compression = coil_ops.compression_matrix(samples, wanted)
    return compression if whitening is None else compression @ whitening


def _crop_readout(data: np.ndarray, columns: int, threads: int) -> np.ndarray:
    """(coils, z, lines, wide) k-space → (coils, z, lines, columns) readout images, centred."""
    coils, z, lines, wide = data.shape
    out = np.empty((coils, z, lines, columns), dtype=np.complex64)
    start = wide // 2 - columns // 2
    for c in range(coils):
        image = fft.centred(data[c], (2,), "backward", threads=threads)
        out[c] = image[..., start : start + columns]
    return out


class _Operators(threading.local):
    """One operator per thread and problem shape: its FFTW plans are made once."""

    def get(self, maps: np.ndarray, mask: np.ndarray) -> SenseOperator:
        cache: dict = self.__dict__.setdefault("cache", {})
        key = maps.shape
        operator = cache.get(key)
        if operator is None:
            operator = SenseOperator(maps, mask)
            cache[key] = operator
        else:
            operator.update(maps, mask)
        return operator


def reconstruct(kspace: KSpace, options: IterativeOptions, *, threads: int = 1) -> np.ndarray:
    """Magnitude images (volumes, z, rows, cols), float32, as ``cartesian.reconstruct`` gives.

    ``kspace.data`` is overwritten.

    Raises
    ------
    BadInput
        Without reference lines, or when the reference block is too small.
    TooLarge
        When the working arrays do not fit in memory.
    """
    _check(kspace, options)
    try:
        return _reconstruct(kspace, options, max(1, threads))
    except MemoryError:
        size = kspace.data.nbytes / 2**30
        raise TooLarge(
            f"reconstructing {size:.1f} GiB of k-space needs more memory than this machine "
            "has; choose a larger instance for this protocol or enable coil compression"
        ) from None


def _reconstruct(kspace: KSpace, options: IterativeOptions, threads: int) -> np.ndarray:
    reference = kspace.reference
    assert reference is not None
    protocol = kspace.protocol
    three_d = protocol.dimension == 3
    mixing = _mixing(kspace, options)
    ref_data = reference.data
    if mixing is not None:
        ref_data = coil_ops.mix_coils(mixing, np.ascontiguousarray(ref_data))
    columns = protocol.matrix[0]
    ref_images = _crop_readout(np.array(ref_data, dtype=np.complex64), columns, threads)
    sampled = kspace.sampled
    if three_d:
        rows = (reference.sampled.all(axis=1), reference.sampled.all(axis=0))
    else:
        ref_images = _readout_to_kspace(ref_images, threads)
        rows = reference.sampled
    volumes, _, z, lines, _ = kspace.data.shape
    result = np.empty((volumes, z, lines, columns), dtype=np.float32)
    operators = _Operators()
    maps_of: dict[int, np.ndarray] = {}
    for v in range(volumes):
        volume = kspace.data[v]
        if mixing is not None:
            virtual = mixing.shape[0]
            volume = coil_ops.mix_coils(mixing, volume, out=volume[:virtual])
        images = _crop_readout(volume, columns, threads)
        if not three_d:
            images = _readout_to_kspace(images, threads)
        problems = (
            _Problems3D(images, sampled, ref_images, rows)
            if three_d
            else _Problems(images, sampled, ref_images, rows)
        )
        out = result[v]

        def solve(index: int, problems: _Problems = problems, out: np.ndarray = out) -> None:
            maps = maps_of.get(index)
            if maps is None:
                calibration = problems.calibration(index)
                if options.sensitivities == "walsh":
                    maps = walsh(calibration, problems.shape)
                else:
                    maps = espirit(calibration, problems.shape, options.espirit)
                maps_of[index] = maps
            operator = operators.get(maps, problems.mask(index))
            data = operator.shift_data(problems.kspace(index))
            if options.method == "sense":
                image = cg_sense(operator, data, options.sense)
            else:
                image = l1_wavelet(operator, data, options.cs)
            problems.put(out, index, np.abs(image))

        run_each(solve, range(problems.count), threads)
    return result


def _readout_to_kspace(images: np.ndarray, threads: int) -> np.ndarray:
    """Centred readout images back to k-space along the readout, coil by coil, in place."""
    for c in range(images.shape[0]):
        fft.centred(images[c], (2,), "forward", threads=threads)
    return images
