"""What a Yarra task file (``{uuid}.task``) says, read the same by the agent, backend and worker.

The Yarra client writes the task file last, as INI: ``[Task]`` names the mode
(``ReconMode``), the scan (``ScanFile``), how many adjustment scans follow
(``AdjustmentFilesCount``, named in ``[AdjustmentFiles]`` under ``%00``, ``%01`` …
in upper-case hex), the protocol and the mode's parameter; ``[Information]`` gives
``ScanFileSize``; in cloud mode ``[Task] UUID`` names the task, in local mode
``PatientName`` and ``ACC`` name the patient. :func:`read_task_file` checks what
every reader relies on; each unit adds its own rules (the backend: the UUID, the
size, no identity) and says what to do in its own words.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass

from contracts.yarra_ini import parse_yarra_ini

RAW_SUFFIXES = (".dat", ".h5", ".hdf5", ".mrd")
"""The raw data files a task may name: Siemens TWIX, ISMRMRD/MRD (HDF5)."""

IDENTITY_KEYS = ("PatientName", "ACC")
"""``[Task]`` keys that name the patient; a local-mode task file fills them."""

_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class TaskFileError(ValueError):
    """The task file cannot be read as one; the message names the file and the defect."""


@dataclass(frozen=True)
class TaskFile:
    """What a task file says, identity values excepted (only their keys are noted).

    Attributes
    ----------
    recon_mode
        ``[Task] ReconMode``.
    scan_file
        ``[Task] ScanFile``: a plain file name with a raw data suffix.
    adjustment_files
        ``[AdjustmentFiles] %00 …``, as many as ``AdjustmentFilesCount`` says, in order.
    task_id
        ``[Task] UUID`` lower-cased; empty in a local-mode file.
    scan_file_size
        ``[Information] ScanFileSize`` in bytes, ``None`` when absent.
    param_value, scan_protocol
        ``[Task] ParamValue`` and ``ScanProtocol``, empty when absent.
    identity_keys
        The keys of :data:`IDENTITY_KEYS` that hold a value.
    """

    recon_mode: str
    scan_file: str
    adjustment_files: tuple[str, ...]
    task_id: str
    scan_file_size: int | None
    param_value: str
    scan_protocol: str
    identity_keys: tuple[str, ...]

    @property
    def raw_files(self) -> tuple[str, ...]:
        """Every raw file the task needs: the scan, then the adjustment scans."""
        return (self.scan_file, *self.adjustment_files)


def read_task_file(data: bytes, name: str) -> TaskFile:
    """Read and check the task file ``data``; ``name`` names it in messages.

    Raises
    ------
    TaskFileError
        When the bytes are binary or not INI, ``[Task]`` is missing, a required key
        is missing, a file named is a path or not raw data, or a number is not one.
    """
    bad = _CONTROL.search(data)
    if bad:
        raise TaskFileError(
            f"{name} is not a Yarra task file: it holds binary data (byte 0x{bad.group()[0]:02x}"
            f" at offset {bad.start()})"
        )
    try:
        parser = parse_yarra_ini(data, source=name)
    except configparser.Error as exc:
        first_line = str(exc).splitlines()[0]
        raise TaskFileError(f"{name} is not a valid INI task file ({first_line})") from None
    if not parser.has_section("Task"):
        raise TaskFileError(f"{name} has no [Task] section; a Yarra task file starts with [Task]")
    task = parser["Task"]
    recon_mode = _required(task, "ReconMode", name)
    scan_file = _raw_file_name(_required(task, "ScanFile", name), name, "[Task] ScanFile")
    count = _count(task.get("AdjustmentFilesCount", ""), name, "[Task] AdjustmentFilesCount")
    adjustments = parser["AdjustmentFiles"] if parser.has_section("AdjustmentFiles") else {}
    adjustment_files = []
    for index in range(count):
        key = f"%{index:02X}"
        value = adjustments.get(key, "").strip() if adjustments else ""
        if not value:
            raise TaskFileError(
                f"{name} says AdjustmentFilesCount={count} but has no [AdjustmentFiles] {key}"
            )
        adjustment_files.append(_raw_file_name(value, name, f"[AdjustmentFiles] {key}"))
    size_text = parser.get("Information", "ScanFileSize", fallback="").strip()
    return TaskFile(
        recon_mode=recon_mode,
        scan_file=scan_file,
        adjustment_files=tuple(adjustment_files),
        task_id=task.get("UUID", "").strip().lower(),
        scan_file_size=_count(size_text, name, "[Information] ScanFileSize") if size_text else None,
        param_value=task.get("ParamValue", "").strip(),
        scan_protocol=task.get("ScanProtocol", "").strip(),
        identity_keys=tuple(key for key in IDENTITY_KEYS if task.get(key, "").strip()),
    )


def _required(section: configparser.SectionProxy, key: str, name: str) -> str:
    value = section.get(key, "").strip()
    if not value:
        raise TaskFileError(f"{name} is missing [{section.name}] {key}")
    return value


def _raw_file_name(value: str, name: str, field: str) -> str:
    if "/" in value or "\\" in value or value in {".", ".."}:
        raise TaskFileError(f"{name}: {field}={value!r} must be a plain file name, not a path")
    if not value.lower().endswith(RAW_SUFFIXES):
        raise TaskFileError(
            f"{name}: {field}={value!r} is not a raw data file (expected "
            + ", ".join(RAW_SUFFIXES)
            + ")"
        )
    return value


def _count(value: str, name: str, field: str) -> int:
    """A whole number of zero or more; an empty value is zero."""
    text = value.strip() or "0"
    try:
        number = int(text)
    except ValueError:
        raise TaskFileError(f"{name}: {field}={value!r} is not a whole number") from None
    if number < 0:
        raise TaskFileError(f"{name}: {field}={number} must not be negative")
    return number
