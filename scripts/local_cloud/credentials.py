"""The local cloud's record of each access key's secret.

AWS never shows a secret again after creating a key, and neither does the
emulator; API Gateway verifies signatures with IAM's own copy. Locally that
copy is this file (readable only by its owner): the admin command writes it
when it creates a key, the local API gateway reads it for every request. Whether
a key is still active is IAM's to say, not this file's.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from contracts.atomic_write import write_atomically


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret_access_key: str
    user_name: str


class CredentialStore:
    """A JSON file ``{access_key_id: {"secret": …, "user": …}}`` with mode 0600."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def put(self, credential: Credential) -> None:
        with self._lock:
            data = self._read()
            data[credential.access_key_id] = {
                "secret": credential.secret_access_key,
                "user": credential.user_name,
            }
            self._write(data)

    def remove(self, access_key_id: str) -> None:
        with self._lock:
            data = self._read()
            if data.pop(access_key_id, None) is not None:
                self._write(data)

    def get(self, access_key_id: str) -> Credential | None:
        entry = self._read().get(access_key_id)
        if entry is None:
            return None
        return Credential(access_key_id, entry["secret"], entry["user"])

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}

    def _write(self, data: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, json.dumps(data, indent=2).encode())
