"""``read_raw``: any supported raw file into the k-space model, format detected by content.

Siemens TWIX VD/VE/XA (multi-RAID header), TWIX VB (measurement header first)
and ISMRMRD/MRD HDF5. The dense k-space's size is known before it is
allocated and checked against the memory the process may use, so an
oversized or corrupt header fails with ``TooLarge`` instead of a MemoryError.
"""

from __future__ import annotations

import os
from pathlib import Path

from recon_image.errors import RawDataError, TooLarge
from recon_image.pipeline.epi import correct_epi
from recon_image.raw.kspace import KSpace
from recon_image.raw.readouts import RawMeasurement
from recon_image.raw.refusals import Method, is_epi, refuse_unsupported
from recon_image.raw.sort import assemble, plan_layout
from recon_image.raw.twix import is_multi_raid, read_twix_vd
from recon_image.raw.twix_vb import looks_like_vb, read_twix_vb

GIB = 1024**3
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_CGROUP_FILES = (
    (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory.current")),
    (
        Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        Path("/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ),
)


def detect_format(path: Path) -> str:
    """``"vd"``, ``"vb"`` or ``"mrd"`` from the file's first bytes; RawDataError otherwise."""
    try:
        with path.open("rb") as file:
            first = file.read(64)
    except OSError as error:
        raise RawDataError(str(path), None, f"cannot be read ({error.strerror})") from None
    if first.startswith(HDF5_SIGNATURE):
        return "mrd"
    if is_multi_raid(first):
        return "vd"
    if len(first) >= 8 and first[:8] == bytes(8):
        raise RawDataError(
            str(path),
            4,
            "the TWIX multi-RAID header lists 0 measurements; the file holds no measurement",
        )
    if looks_like_vb(first):
        return "vb"
    raise RawDataError(
        str(path),
        0,
        f"the first bytes ({first[:8].hex(' ')}) are neither a TWIX multi-RAID header "
        "(u32 0, then 1..64 measurements), a TWIX VB measurement header (u32 length, u32 "
        "buffer count, 'Config') nor the HDF5 signature of an MRD file; upload the scanner's "
        ".dat or an ISMRMRD .h5",
    )


def read_measurement(path: Path) -> RawMeasurement:
    """The readouts and header protocol of ``path``, samples still on disk."""
    kind = detect_format(path)
    if kind == "mrd":
        # h5py and ismrmrd take 0.2 s to import: only MRD files pay for them
        from recon_image.raw.mrd import read_mrd

        return read_mrd(path)
    return read_twix_vd(path) if kind == "vd" else read_twix_vb(path)


def available_memory_bytes() -> int:
    """Memory this process may still use: the container's limit less its use, or MemAvailable.

    The smaller of the cgroup limit (v2 ``memory.max`` less ``memory.current``,
    or v1's pair) and ``MemAvailable``.
    """
    candidates = []
    for limit_file, usage_file in _CGROUP_FILES:
        limit = _read_int(limit_file)
        if limit is not None and limit < 1 << 60:
            candidates.append(limit - (_read_int(usage_file) or 0))
            break
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                candidates.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    if not candidates:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    return max(min(candidates), 0)


def _read_int(path: Path) -> int | None:
    """An integer file such as ``memory.max``; None when missing or ``max``."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def read_raw(
    path: Path, *, memory_limit_bytes: int | None = None, method: Method | None = None
) -> KSpace:
    """Read a raw data file into the sorted k-space model.

    Parameters
    ----------
    path
        A Siemens TWIX file (VB or VD/VE/XA) or an ISMRMRD/MRD HDF5 file.
    memory_limit_bytes
        Most bytes the dense k-space may take; None means the memory available
        to the process (cgroup limit or MemAvailable).
    method
        The reconstruction that will take the k-space; None checks only what
        every reconstruction needs.

    EPI readouts are regridded, reversed and phase-corrected here
    (``recon_image.pipeline.epi``), so the k-space is Cartesian like any other.

    Raises
    ------
    RawDataError
        The file is not a supported format, is truncated or corrupt.
    Unsupported
        ``method`` (or any reconstruction) would get this measurement wrong.
    TooLarge
        The dense k-space would need more memory than allowed.
    """
    path = Path(path)
    measurement = read_measurement(path)
    refuse_unsupported(measurement, method)
    epi = is_epi(measurement)
    layout = plan_layout(measurement)
    limit = available_memory_bytes() if memory_limit_bytes is None else memory_limit_bytes
    # EPI readouts are corrected in memory before the k-space is filled: twice its size
    if layout.nbytes * (2 if epi else 1) > limit:
        volumes, coils, z, lines, columns = layout.shape
        raise TooLarge(
            f"{path}: the k-space ({volumes} volumes x {coils} coils x {z} x {lines} x {columns} "
            f"complex samples) needs {layout.nbytes / GIB:.3g} GiB but only {limit / GIB:.3g} GiB "
            "are available; choose a larger instance size for this protocol"
        )
    if epi:
        measurement = correct_epi(measurement)
        layout = plan_layout(measurement)
    return assemble(measurement, layout)
