"""The S3 key layout of the in and out buckets.

In bucket: ``{user}/{uuid}/{raw files}`` and, last, ``{user}/{uuid}/{uuid}.task``.
Out bucket: ``{user}/{uuid}/output_files/…``, ``manifest.json``, the worker's log.
"""

from __future__ import annotations

import re
import uuid as uuid_module
from dataclasses import dataclass
from enum import Enum

from contracts.taskfile import RAW_SUFFIXES

TASK_SUFFIX = ".task"
FAILURE_FILE = "failure.json"
"""Written by the worker into its output prefix when it fails on the user's data."""

_USER = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,64}$")  # IAM user names


class KeyKind(Enum):
    RAW = "raw"
    TASK = "task"
    OTHER = "other"


@dataclass(frozen=True)
class InKey:
    """An object key of the in bucket, split into its parts."""

    user: str
    task_id: str
    name: str

    @property
    def kind(self) -> KeyKind:
        lower = self.name.lower()
        if lower.endswith(TASK_SUFFIX):
            return KeyKind.TASK
        if lower.endswith(RAW_SUFFIXES):
            return KeyKind.RAW
        return KeyKind.OTHER


def normalise_task_id(value: str) -> str | None:
    """The canonical lower-case form of a UUID, or None if ``value`` is not one."""
    try:
        return str(uuid_module.UUID(value))
    except (ValueError, AttributeError, TypeError):
        return None


def parse_in_key(key: str) -> InKey | None:
    """Split ``{user}/{uuid}/{name}``; None for any key outside the layout."""
    parts = key.split("/")
    if len(parts) != 3 or not all(parts):
        return None
    user, task_id, name = parts
    if not _USER.match(user) or normalise_task_id(task_id) != task_id:
        return None
    return InKey(user=user, task_id=task_id, name=name)


def task_prefix(user: str, task_id: str) -> str:
    """Prefix of one task's objects, in either bucket."""
    return f"{user}/{task_id}/"


def in_key(user: str, task_id: str, name: str) -> str:
    return f"{task_prefix(user, task_id)}{name}"


def s3_url(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"
