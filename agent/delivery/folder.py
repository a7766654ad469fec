"""Folder delivery: a series copied into a folder or mounted share, appearing all at once.

The files are written into a hidden folder beside the target
(``location/.{subfolder}.partial-…``), flushed to disk, and the folder is then
renamed to ``location/{subfolder}``, so a reader of the share never sees half
a series. Delivering again replaces the earlier copy, so a task delivered
twice (an agent killed after the copy) leaves one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

from agent.errors import DeliveryError
from agent.private import private_folder, protect_file
from contracts.atomic_write import replace_file
from contracts.destination import Destination

PARTIAL = ".partial-"
REPLACED = ".replaced-"


def copy_series(files: Sequence[Path], destination: Destination, subfolder: str) -> Path:
    """Copy ``files`` into ``destination.location/subfolder/`` atomically.

    Parameters
    ----------
    files
        The files to deliver; their names are kept, so they must differ.
    destination
        An ``smb`` destination whose location exists (a share must be mounted).
    subfolder
        One folder name (the task's UUID, say): no separators, not ``.`` or ``..``.

    Returns
    -------
    Path
        The delivered folder.

    Raises
    ------
    DeliveryError
        When the location is missing, not a folder or not writable, or a copy fails.
    """
    if destination.method != "smb":
        raise ValueError(f"{destination.describe()} is not a folder destination")
    if not subfolder or subfolder in {".", ".."} or "/" in subfolder or os.sep in subfolder:
        raise ValueError("subfolder must be one folder name")
    names = [path.name for path in files]
    if len(set(names)) != len(names):
        raise ValueError("the files to deliver must have distinct names")
    location = destination.folder
    where = destination.describe()
    if not location.is_dir():
        raise DeliveryError(
            f"{where}: the location does not exist or is not a folder; mount the share or"
            " create the folder"
        )
    _clear_leftovers(location, subfolder)
    partial = location / f".{subfolder}{PARTIAL}{uuid.uuid4().hex}"
    try:
        private_folder(partial)
        for path in files:
            _copy(path, partial / path.name)
        _fsync(partial)
        _replace(partial, location / subfolder)
        _fsync(location)
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        reason = error.strerror or type(error).__name__
        raise DeliveryError(
            f"{where}: cannot write the images ({reason}); check that the agent's user may"
            " write there and that the share has space"
        ) from error
    return location / subfolder


def _copy(source: Path, target: Path) -> None:
    with source.open("rb") as reader, target.open("wb") as writer:
        protect_file(target)
        shutil.copyfileobj(reader, writer, 1 << 20)
        writer.flush()
        os.fsync(writer.fileno())


def _replace(partial: Path, target: Path) -> None:
    """Rename ``partial`` to ``target``, moving an earlier delivery aside first."""
    if not target.exists():
        replace_file(partial, target)
        return
    old = target.with_name(f".{target.name}{REPLACED}{uuid.uuid4().hex}")
    replace_file(target, old)
    replace_file(partial, target)
    shutil.rmtree(old, ignore_errors=True)


def _clear_leftovers(location: Path, subfolder: str) -> None:
    """Removes hidden folders an interrupted delivery of this subfolder left behind."""
    for marker in (PARTIAL, REPLACED):
        for leftover in location.glob(f".{subfolder}{marker}*"):
            shutil.rmtree(leftover, ignore_errors=True)


def _fsync(folder: Path) -> None:
    """Flush a folder's entries; shares that cannot (some SMB mounts) are left as they are.

    Windows flushes a folder's entries with the files in it and opens no folder as a file.
    """
    if os.name != "posix":
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
