"""Parsing and validation of the Yarra task file (``{uuid}.task``, INI as ORT writes it)."""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass

from functions.core.errors import TaskFileError
from functions.core.keys import RAW_SUFFIXES
from functions.core.yarra_ini import parse_yarra_ini

_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_IDENTITY_KEYS = ("patientname", "acc")


@dataclass(frozen=True)
class TaskFile:
    """What the backend needs from a task file. Identity fields are never read into it."""

    task_id: str
    recon_mode: str
    scan_file: str
    scan_file_size: int
    adjustment_files: tuple[str, ...]
    param_value: str
    scan_protocol: str

    @property
    def raw_files(self) -> tuple[str, ...]:
        """Every raw file the job needs: the scan, then the adjustment scans."""
        return (self.scan_file, *self.adjustment_files)


def parse_task_file(data: bytes, *, name: str, expected_task_id: str) -> TaskFile:
    """Parse and validate a cloud-mode task file.

    Parameters
    ----------
    data
        The file's bytes (the caller limits their size).
    name
        The object's file name, used in messages.
    expected_task_id
        The UUID of the folder the file was uploaded to; the file must name it.

    Raises
    ------
    TaskFileError
        With a message that says what is wrong and how to fix it.
    """
    bad = _CONTROL.search(data)
    if bad:
        raise TaskFileError(
            f"{name} is not a Yarra task file: it holds binary data (byte 0x{bad.group()[0]:02x}"
            f" at offset {bad.start()}). Upload the .task file that the Yarra client wrote."
        )
    try:
        parser = parse_yarra_ini(data, source=name)
    except configparser.Error as exc:
        first_line = str(exc).splitlines()[0]
        raise TaskFileError(
            f"{name} is not a valid INI task file ({first_line}). Upload the .task file that"
            " the Yarra client wrote."
        ) from None
    if not parser.has_section("Task"):
        raise TaskFileError(f"{name} has no [Task] section; a Yarra task file starts with [Task].")
    task = parser["Task"]
    for key in _IDENTITY_KEYS:
        if task.get(key, "").strip():
            raise TaskFileError(
                f"{name} carries patient identity ([Task] {key}); cloud tasks must be"
                " de-identified. Set the Yarra client to cloud mode, which writes a UUID instead."
            )

    def required(section: configparser.SectionProxy, key: str) -> str:
        value = section.get(key, "").strip()
        if not value:
            raise TaskFileError(f"{name} is missing [{section.name}] {key}.")
        return value

    task_id = required(task, "UUID").lower()
    if task_id != expected_task_id:
        raise TaskFileError(
            f"{name} names task {task_id} but was uploaded under {expected_task_id}; upload each"
            " task's files under its own UUID."
        )
    recon_mode = required(task, "ReconMode")
    scan_file = _plain_raw_name(required(task, "ScanFile"), name, "ScanFile")
    count = _non_negative_int(
        task.get("AdjustmentFilesCount", "0"), name, "[Task] AdjustmentFilesCount"
    )
    adjustments = _adjustment_files(parser, count, name)
    if not parser.has_section("Information"):
        raise TaskFileError(f"{name} has no [Information] section with ScanFileSize.")
    size = _non_negative_int(
        required(parser["Information"], "ScanFileSize"), name, "[Information] ScanFileSize"
    )
    return TaskFile(
        task_id=task_id,
        recon_mode=recon_mode,
        scan_file=scan_file,
        scan_file_size=size,
        adjustment_files=adjustments,
        param_value=task.get("ParamValue", "").strip(),
        scan_protocol=task.get("ScanProtocol", "").strip(),
    )


def _adjustment_files(parser: configparser.ConfigParser, count: int, name: str) -> tuple[str, ...]:
    section = parser["AdjustmentFiles"] if parser.has_section("AdjustmentFiles") else {}
    files = []
    for index in range(count):
        key = f"%{index:02X}"
        value = section.get(key.lower(), "").strip() if section else ""
        if not value:
            raise TaskFileError(
                f"{name} says AdjustmentFilesCount={count} but [AdjustmentFiles] has no {key}."
            )
        files.append(_plain_raw_name(value, name, f"[AdjustmentFiles] {key}"))
    return tuple(files)


def _plain_raw_name(value: str, name: str, field: str) -> str:
    if "/" in value or "\\" in value or value in {".", ".."}:
        raise TaskFileError(f"{name}: {field}={value!r} must be a plain file name, not a path.")
    if not value.lower().endswith(RAW_SUFFIXES):
        raise TaskFileError(
            f"{name}: {field}={value!r} is not a raw data file (expected "
            + ", ".join(RAW_SUFFIXES)
            + ")."
        )
    return value


def _non_negative_int(value: str, name: str, field: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise TaskFileError(f"{name}: {field}={value!r} is not a whole number.") from None
    if number < 0:
        raise TaskFileError(f"{name}: {field}={number} must not be negative.")
    return number
