"""A read-only, patched view of a file: the bytes to send, without writing a second copy."""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterable
from pathlib import Path

from transfer.integrity import CHUNK
from transfer.positional import RandomAccessFile

SAMPLE = 64 * 1024


class PatchedSource:
    """Reads ``path`` as if each ``(offset, bytes)`` patch had replaced the bytes there.

    Patches keep the length of the file; they must lie within it and not overlap.
    The file is opened once and may be read from several threads at once.
    """

    def __init__(self, path: str | os.PathLike[str], patches: Iterable[tuple[int, bytes]] = ()):
        self.path = Path(path)
        self._file = RandomAccessFile(self.path)
        try:
            stat = self._file.stat()
            self.size = stat.st_size
            self.mtime_ns = stat.st_mtime_ns
            self.patches = _validate(patches, self.size)
        except BaseException:
            self._file.close()
            raise

    def __enter__(self) -> PatchedSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` with the patches applied.

        A range no patch touches is returned as read, without a copy: a part in
        flight then costs its size once, not three times.
        """
        data = self._file.read_at(offset, length)
        if len(data) < length:
            raise OSError(f"{self.path} is shorter than when the transfer started")
        end = offset + length
        touching = [(s, d) for s, d in self.patches if s < end and s + len(d) > offset]
        if not touching:
            return data
        patched = bytearray(data)
        for start, patch in touching:
            lo, hi = max(start, offset), min(start + len(patch), end)
            patched[lo - offset : hi - offset] = patch[lo - start : hi - start]
        return bytes(patched)

    def sha256(self) -> str:
        """Hex sha256 of the patched content, in one sequential pass."""
        digest = hashlib.sha256()
        for offset in range(0, self.size, CHUNK):
            digest.update(self.read(offset, min(CHUNK, self.size - offset)))
        return digest.hexdigest()

    def fingerprint(self) -> str:
        """Cheap identity of the file on disk: sha256 of its size and three 64 KiB samples."""
        digest = hashlib.sha256(str(self.size).encode())
        for offset in sorted({0, max(0, self.size // 2 - SAMPLE // 2), max(0, self.size - SAMPLE)}):
            digest.update(self._file.read_at(offset, SAMPLE))
        return digest.hexdigest()

    def patches_fingerprint(self) -> str:
        digest = hashlib.sha256()
        for offset, data in self.patches:
            digest.update(f"{offset}:{len(data)}:".encode())
            digest.update(data)
        return digest.hexdigest()


def _validate(patches: Iterable[tuple[int, bytes]], size: int) -> list[tuple[int, bytes]]:
    result = []
    for offset, data in patches:
        data = bytes(data)
        if not isinstance(offset, int) or offset < 0 or offset + len(data) > size:
            raise ValueError(
                f"patch at offset {offset} of {len(data)} bytes lies outside the file"
                f" ({size} bytes)"
            )
        if data:
            result.append((offset, data))
    result.sort(key=lambda patch: patch[0])
    for (a, a_data), (b, _) in itertools.pairwise(result):
        if a + len(a_data) > b:
            raise ValueError(f"patches at offsets {a} and {b} overlap")
    return result
