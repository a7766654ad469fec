"""The backend's rules for a cloud-mode task file, beyond what every reader checks.

The file is read by :func:`contracts.taskfile.read_task_file`, as the agent and the
worker read it; here it must also name the task it was uploaded under, give the
scan's size and carry no patient identity.
"""

from __future__ import annotations

from contracts.taskfile import TaskFile, read_task_file
from contracts.taskfile import TaskFileError as UnreadableTaskFile
from functions.core.errors import TaskFileError

_UPLOAD_IT = "Upload the .task file that the Yarra client wrote."


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
    try:
        task = read_task_file(data, name)
    except UnreadableTaskFile as exc:
        raise TaskFileError(f"{exc}. {_UPLOAD_IT}") from None
    if task.identity_keys:
        raise TaskFileError(
            f"{name} carries patient identity ([Task] {', '.join(task.identity_keys)}); cloud"
            " tasks must be de-identified. Set the Yarra client to cloud mode, which writes a"
            " UUID instead."
        )
    if not task.task_id:
        raise TaskFileError(f"{name} is missing [Task] UUID. {_UPLOAD_IT}")
    if task.task_id != expected_task_id:
        raise TaskFileError(
            f"{name} names task {task.task_id} but was uploaded under {expected_task_id}; upload"
            " each task's files under its own UUID."
        )
    if task.scan_file_size is None:
        raise TaskFileError(f"{name} is missing [Information] ScanFileSize. {_UPLOAD_IT}")
    return task
