"""Per-readout counters and flags, one row per readout, shared by every raw format.

A reader turns its scan headers into a numpy structured array of
``READOUT_DTYPE`` and hands the samples out through a ``SampleSource``; the
sorter (``sort.py``) places them into the dense k-space without knowing which
format they came from. Flags use Siemens' EvalInfoMask bit numbers; the MRD
reader translates its own flags into them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol as Interface

import numpy as np

from recon_image.raw.kspace import Protocol

COUNTERS = ("lin", "par", "sli", "ave", "eco", "phs", "rep", "set", "seg")

READOUT_DTYPE = np.dtype(
    [(name, "<u2") for name in COUNTERS]
    + [
        ("flags", "<u8"),
        ("samples", "<u4"),
        ("channels", "<u4"),
        ("centre_column", "<u2"),
        ("centre_line", "<u2"),
        ("centre_partition", "<u2"),
        ("position", "<f4", (3,)),
        ("read_dir", "<f4", (3,)),
        ("phase_dir", "<f4", (3,)),
        ("slice_dir", "<f4", (3,)),
        ("readout_offcentre", "<f4"),
        ("offset", "<u8"),
    ]
)
"""One readout: its counters, flags, size, k-space centre, slice geometry and where its samples lie.

``readout_offcentre`` is the field of view's shift along the readout (mm)
that the scanner demodulated (0 from MRD). ``offset`` is format specific: a
byte offset of the first sample (TWIX) or the acquisition's row (MRD).
Directions and position are in patient coordinates (LPS, millimetres).
"""


class Flag(enum.IntEnum):
    """Bit numbers of Siemens' EvalInfoMask."""

    ACQEND = 0
    RTFEEDBACK = 1
    HPFEEDBACK = 2
    ONLINE = 3
    OFFLINE = 4
    SYNCDATA = 5
    LASTSCANINCONCAT = 8
    RAWDATACORRECTION = 10
    LASTSCANINMEAS = 11
    SCANSCALEFACTOR = 12
    REFPHASESTABSCAN = 14
    PHASESTABSCAN = 15
    D3FFT = 16
    SIGNREV = 17
    PHASEFFT = 18
    SWAPPED = 19
    POSTSHAREDLINE = 20
    PHASCOR = 21
    PATREFSCAN = 22
    PATREFANDIMASCAN = 23
    REFLECT = 24
    NOISEADJSCAN = 25
    FIRSTSCANINSLICE = 28
    LASTSCANINSLICE = 29

    @property
    def mask(self) -> int:
        return 1 << int(self)


NOT_IMAGING = (
    Flag.ACQEND,
    Flag.RTFEEDBACK,
    Flag.HPFEEDBACK,
    Flag.SYNCDATA,
    Flag.REFPHASESTABSCAN,
    Flag.PHASESTABSCAN,
    Flag.PHASCOR,
    Flag.NOISEADJSCAN,
)
"""Readouts that never belong in the image k-space (PATREFSCAN alone is excluded separately)."""


def mask_of(*flags: Flag) -> int:
    """The EvalInfoMask with ``flags`` set."""
    value = 0
    for flag in flags:
        value |= flag.mask
    return value


def has_flag(table: np.ndarray, flag: Flag) -> np.ndarray:
    """Boolean array: which readouts of ``table`` carry ``flag``."""
    return (table["flags"] & np.uint64(flag.mask)) != 0


def imaging(table: np.ndarray) -> np.ndarray:
    """Boolean array: the readouts that form the image (not noise, navigators or PAT-only lines)."""
    excluded = np.uint64(mask_of(*NOT_IMAGING))
    keep = (table["flags"] & excluded) == 0
    pat_only = has_flag(table, Flag.PATREFSCAN) & ~has_flag(table, Flag.PATREFANDIMASCAN)
    return keep & ~pat_only


def reference(table: np.ndarray) -> np.ndarray:
    """Boolean array: the parallel-imaging reference readouts, separate or also imaging."""
    excluded = np.uint64(mask_of(*NOT_IMAGING))
    keep = (table["flags"] & excluded) == 0
    return keep & (has_flag(table, Flag.PATREFSCAN) | has_flag(table, Flag.PATREFANDIMASCAN))


class SampleSource(Interface):
    """Hands out the samples of readouts that share one channel count and length."""

    def read(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """complex64 (len(rows), channels, samples) for the table rows ``rows``.

        With ``out`` (a view of that shape, any strides) the samples are written there and
        ``out`` is returned: the sorter copies readouts straight into the dense k-space.
        """
        ...


@dataclass
class RawMeasurement:
    """A measurement as a reader found it: header protocol, readout table and their samples.

    ``protocol.slices`` is empty until the sorter fills it from the readouts'
    slice geometry.
    """

    path: Path
    protocol: Protocol
    readouts: np.ndarray
    samples: SampleSource
