"""Planned FFTW transforms: made once per (shape, axes, direction, threads), reused, in place.

pyfftw's ``builders`` and ``interfaces`` copy their input on every call; the
pipeline instead keeps one :class:`pyfftw.FFTW` object per problem, planned
on an aligned buffer of its own, and runs it in place on the caller's arrays.
Planning overwrites its arrays, so plans are made on that private buffer and only
executed on real data.

Planning is paid at image build, not per job. The image ships FFTW_MEASURE wisdom for
the shapes the built-in modes make for the supported protocols
(``python -m recon_image.pipeline.wisdom``); a job takes a measured plan from it in
microseconds. A shape without wisdom is planned with FFTW_ESTIMATE, in milliseconds.
Chosen by measurement (one coil's transforms, 2 threads, a loaded 2-core machine):

================================================  =============  ==============  ========
transform                                          MEASURE plans  then runs       ESTIMATE
================================================  =============  ==============  ========
readout of a 64 x 128 x 256 slab                   6.5 s          22 ms           38 ms
partitions and lines of a 64 x 128 x 128 slab      17 s           18 ms           13 ms
readout of a 128 x 256 x 256 slab                  3.7 s          27 ms           35 ms
partitions and lines of a 128 x 256 x 256 slab     23 s           89 ms           0.53 s
all three axes of a 128 x 256 x 256 slab           11 s           38 ms           0.40 s
================================================  =============  ==============  ========

(Measured when each coil ran on both threads; coils now run side by side, one per thread,
on single-threaded plans, which halved the CPU the transforms take.) MEASURE under a
planning time limit (0.1 to 2 s) ran no faster than ESTIMATE (0.53 s for
the three axes at a 1 s limit). So an estimated plan costs nothing up front and, for the
large strided transforms, up to 0.45 s more per coil and volume: for a 32-coil volume
less than measuring would have cost (23 s), though a job with many volumes outside the
wisdom would be better served by adding its protocol to the image (``--slab``).
"""

from __future__ import annotations

import math
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyfftw

from contracts.atomic_write import write_atomically

Direction = Literal["forward", "backward"]

Effort = Literal["job", "build"]

# A job: a measured plan from wisdom, else an estimated one; the image build: measure.
_FROM_WISDOM = ("FFTW_MEASURE", "FFTW_WISDOM_ONLY")
_ESTIMATED = ("FFTW_ESTIMATE",)
_MEASURED = ("FFTW_MEASURE",)
_WISDOM_MAGIC = b"YCFFTW1\n"
_plans: dict[tuple[tuple[int, ...], tuple[int, ...], Direction, int, int], Plan] = {}
_lock = threading.Lock()


def empty_aligned(shape: Sequence[int], dtype: type = np.complex64) -> np.ndarray:
    """An uninitialised array aligned for FFTW's SIMD code, so plans can run on it in place."""
    return pyfftw.empty_aligned(tuple(shape), dtype=dtype)


def is_aligned(array: np.ndarray) -> bool:
    """Whether ``array`` starts on the boundary FFTW's SIMD code needs."""
    return pyfftw.is_n_byte_aligned(array, pyfftw.simd_alignment)


@dataclass(eq=False)
class Plan:
    """One planned in-place complex64 transform and the aligned buffer it was planned on.

    Attributes
    ----------
    fftw
        The planned transform.
    buffer
        Its own aligned array: scratch space for callers and the fallback for
        arrays the plan cannot run on directly.
    scale
        1/N for an inverse transform, 1 for a forward one. :meth:`run` does not
        apply it, so that callers can fold it into a step they do anyway.
    measured
        Whether the plan was measured (from wisdom, or at the image build); False for
        an estimated plan.
    """

    fftw: pyfftw.FFTW
    buffer: np.ndarray
    scale: float
    measured: bool = True

    def fits(self, array: np.ndarray) -> bool:
        """Whether the plan can run directly on ``array`` (same layout, aligned)."""
        return (
            array.shape == self.buffer.shape
            and array.strides == self.buffer.strides
            and array.dtype == self.buffer.dtype
            and is_aligned(array)
        )

    def run(self, array: np.ndarray) -> np.ndarray:
        """Transform ``array`` in place (unnormalised) and return it.

        An array the plan does not fit (unaligned, other strides) goes through
        the plan's buffer: two copies, the same result.
        """
        if array.shape != self.buffer.shape:
            raise ValueError(f"plan is for shape {self.buffer.shape}, got {array.shape}")
        if self.fits(array):
            self.fftw.update_arrays(array, array)
            try:
                self.fftw.execute()
            finally:
                self.fftw.update_arrays(self.buffer, self.buffer)
            return array
        self.buffer[...] = array
        self.fftw.execute()
        array[...] = self.buffer
        return array


def plan(
    shape: Sequence[int],
    axes: Sequence[int],
    direction: Direction,
    threads: int = 1,
    *,
    effort: Effort = "job",
    worker: int = 0,
) -> Plan:
    """The cached in-place complex64 plan for ``shape`` over ``axes``; made on first use.

    A job (``effort="job"``) takes the measured plan from the loaded wisdom, or else an
    estimated one (milliseconds; see the module's note); ``effort="build"`` measures
    (seconds for a large 3D volume) and so adds to the process's wisdom. Plans are kept
    for the life of the process, so the same ``(shape, axes, direction, threads, worker)``
    always returns the same object. A plan runs on one array at a time: threads that
    transform side by side each take their own ``worker`` number (the same wisdom).
    """
    shape = tuple(int(n) for n in shape)
    axes = tuple(sorted(a % len(shape) for a in axes))
    key = (shape, axes, direction, int(threads), int(worker))
    with _lock:
        existing = _plans.get(key)
        if existing is not None:
            return existing
        buffer = empty_aligned(shape)

        def make(flags: tuple[str, ...]) -> pyfftw.FFTW:
            return pyfftw.FFTW(
                buffer,
                buffer,
                axes=axes,
                direction="FFTW_FORWARD" if direction == "forward" else "FFTW_BACKWARD",
                flags=flags,
                threads=max(1, int(threads)),
            )

        measured = True
        if effort == "build":
            fftw = make(_MEASURED)
        else:
            try:
                fftw = make(_FROM_WISDOM)
            except RuntimeError:  # pyfftw's word for "no wisdom for this problem"
                fftw, measured = make(_ESTIMATED), False
        size = math.prod(shape[a] for a in axes)
        made = Plan(
            fftw=fftw,
            buffer=buffer,
            scale=1.0 if direction == "forward" else 1.0 / size,
            measured=measured,
        )
        _plans[key] = made
        return made


def clear_plans() -> None:
    """Forget every cached plan and its buffer (the wisdom they produced stays)."""
    with _lock:
        _plans.clear()


def _alternating(n: int) -> np.ndarray:
    """(-1)^k for k < n, float32."""
    signs = np.ones(n, dtype=np.float32)
    signs[1::2] = -1.0
    return signs


def _modulation(shape: tuple[int, ...], axes: tuple[int, ...]) -> np.ndarray:
    """The product of (-1)^k over ``axes``, shaped to broadcast against ``shape``."""
    result = np.ones([1] * len(shape), dtype=np.float32)
    for axis in axes:
        along = [1] * len(shape)
        along[axis] = shape[axis]
        result = result * _alternating(shape[axis]).reshape(along)
    return result


def centred(
    array: np.ndarray, axes: Sequence[int], direction: Direction, *, threads: int = 1
) -> np.ndarray:
    """The centred, normalised transform of ``array`` over ``axes``, computed in place.

    Centred means index n // 2 is the origin on both sides: the forward
    transform is ``fftshift(fft(ifftshift(x)))``, the inverse
    ``fftshift(ifft(ifftshift(k)))`` scaled by 1/N. For even n the shifts are
    the modulation ``(-1)^m`` of the input and ``(-1)^(j + n/2)`` of the
    output, two in-place multiplications instead of two copies; odd axes fall
    back to shifts.

    ``array`` must be complex64; it is overwritten with the result, which is
    also returned.
    """
    if array.dtype != np.complex64:
        raise TypeError(f"centred transforms work on complex64, got {array.dtype}")
    axes = tuple(sorted(a % array.ndim for a in axes))
    even = tuple(a for a in axes if array.shape[a] % 2 == 0)
    odd = tuple(a for a in axes if array.shape[a] % 2 == 1)
    plan_ = plan(array.shape, axes, direction, threads)
    if odd:
        array[...] = np.fft.ifftshift(array, axes=odd)
    modulation = _modulation(array.shape, even)
    array *= modulation
    plan_.run(array)
    sign = (-1.0) ** sum(array.shape[a] // 2 for a in even)
    array *= modulation * np.float32(sign * plan_.scale)
    if odd:
        array[...] = np.fft.fftshift(array, axes=odd)
    return array


def load_wisdom(path: Path | str) -> bool:
    """Import FFTW wisdom saved by :func:`save_wisdom`; False when there is none usable.

    A missing, truncated or foreign file only costs planning time, so it is
    reported by the return value, never raised.
    """
    try:
        blob = Path(path).read_bytes()
    except OSError:
        return False
    if not blob.startswith(_WISDOM_MAGIC):
        return False
    parts, offset = [], len(_WISDOM_MAGIC)
    for _ in range(3):
        if offset + 4 > len(blob):
            return False
        (length,) = struct.unpack_from("<I", blob, offset)
        offset += 4
        if offset + length > len(blob):
            return False
        parts.append(blob[offset : offset + length])
        offset += length
    return any(pyfftw.import_wisdom(tuple(parts)))


def save_wisdom(path: Path | str) -> None:
    """Write the process's FFTW wisdom (all precisions) to ``path``, atomically."""
    path = Path(path)
    parts = pyfftw.export_wisdom()
    blob = _WISDOM_MAGIC + b"".join(struct.pack("<I", len(p)) + p for p in parts)
    # Made at image build as root and read by the worker's own user.
    write_atomically(path, blob, mode=0o644)
