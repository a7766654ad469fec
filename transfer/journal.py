"""A small JSON journal beside a transfer, written atomically: a crash never leaves half."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from contracts.atomic_write import write_atomically

VERSION = 1


def load(path: Path) -> dict[str, Any] | None:
    """The journal at ``path``, or None when there is none or it is unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return None
    return data


def save(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (:func:`contracts.atomic_write.write_atomically`)."""
    write_atomically(path, json.dumps({**data, "version": VERSION}, sort_keys=True).encode())


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def upload_journal_path(source: Path, bucket: str, key: str, journal_dir: Path | None) -> Path:
    """Where the journal of uploading ``source`` to ``bucket/key`` lives.

    Beside the file by default; ``journal_dir`` for sources on read-only folders.
    The destination is hashed into the name so one file may go to several keys.
    """
    tag = hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()[:12]
    folder = journal_dir if journal_dir is not None else source.parent
    return Path(folder) / f".{source.name}.{tag}.upload.json"


def download_journal_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part.json")
