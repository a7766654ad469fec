"""De-identify a Yarra task file: only the keys the cloud needs go up.

A task file written by the Yarra client also names the patient (local mode),
the scanner's serial number and system name, and dates; the cloud needs none
of them. Kept, in their sections and order: ReconMode, ScanFile,
AdjustmentFilesCount, AdjustmentFiles (the ``[AdjustmentFiles]`` section's
``%00``, ``%01`` … keys), ScanFileSize, ScanProtocol, ParamValue and UUID.
Everything else, comments included, is dropped: a whitelist, so a key never
seen before stays home too.
"""

from __future__ import annotations

import re

from agent.errors import BadTask, DeidRefused

KEPT_KEYS = frozenset(
    (
        "ReconMode",
        "ScanFile",
        "AdjustmentFilesCount",
        "AdjustmentFiles",
        "ScanFileSize",
        "ScanProtocol",
        "ParamValue",
        "UUID",
    )
)
ADJUSTMENT_SECTION = "AdjustmentFiles"
_ADJUSTMENT_KEY = re.compile(r"%[0-9A-Fa-f]{2,}")
_SECTION = re.compile(r"\s*\[([^\]]+)\]\s*")
_LOCAL_MODE_NAME = re.compile(r"#[SFMDT]")


def _kept(section: str, key: str) -> bool:
    if section == ADJUSTMENT_SECTION:
        return bool(_ADJUSTMENT_KEY.fullmatch(key))
    return key in KEPT_KEYS


def _check_file_name(key: str, value: str) -> None:
    """A raw file name in Yarra's local-mode form carries the system and the exam date."""
    if _LOCAL_MODE_NAME.search(value):
        raise DeidRefused(
            f"the task file's {key} is a local-mode scan file name, which carries the "
            "scanner's serial number and the exam date; nothing was uploaded. Export the "
            "task with the ORT client in cloud mode (file names {uuid}.dat)"
        )


def deidentify_task_file(data: bytes) -> bytes:
    """The task file ``data`` with only the whitelisted keys, line endings and encoding kept.

    Raises
    ------
    BadTask
        When ``data`` has no ``[Task]`` section with ReconMode and ScanFile.
    DeidRefused
        When a scan file name is in the local-mode form (serial number and date).
    """
    text = data.decode("latin-1")
    newline = "\r\n" if "\r\n" in text else "\n"
    sections: dict[str, list[str]] = {}
    order: list[str] = []
    section = ""
    for line in text.splitlines():
        header = _SECTION.fullmatch(line)
        if header:
            section = header.group(1).strip()
            if section not in sections:
                sections[section] = []
                order.append(section)
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not section or not _kept(section, key):
            continue
        if key == "ScanFile" or section == ADJUSTMENT_SECTION:
            _check_file_name(key, value)
        sections[section].append(f"{key}={value.strip()}")
    task = sections.get("Task", [])
    if not any(line.startswith("ReconMode=") for line in task) or not any(
        line.startswith("ScanFile=") for line in task
    ):
        raise BadTask(
            "the task file has no [Task] section with ReconMode and ScanFile; it is not a "
            "Yarra task file. Send the scan again from the ORT client"
        )
    out: list[str] = []
    for name in order:
        if sections[name]:
            out += [f"[{name}]", *sections[name], ""]
    return newline.join(out).encode("latin-1")


def with_task_uuid(data: bytes, uuid: str) -> bytes:
    """The de-identified task file ``data`` naming ``uuid`` as its ``[Task] UUID``.

    A task that the cloud refused under its own UUID goes up under a new one, and the
    cloud accepts a task file only under the UUID it names. ``data`` is
    :func:`deidentify_task_file`'s output, whose lines are plain ``key=value``.
    """
    text = data.decode("latin-1")
    newline = "\r\n" if "\r\n" in text else "\n"
    out: list[str] = []
    section = ""
    for line in text.split(newline):
        header = _SECTION.fullmatch(line)
        if header:
            section = header.group(1).strip()
        elif section == "Task" and line.startswith("UUID="):
            continue
        out.append(line)
        if header and section == "Task":
            out.append(f"UUID={uuid}")
    return newline.join(out).encode("latin-1")
