"""Checksums: full-object sha256, S3 ETags (single and multipart) and part sizing."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB
DEFAULT_PART_SIZE = 8 * MIB
MAX_PARTS = 10_000
CHUNK = MIB


def part_size_for(size: int, requested: int | None = None) -> int:
    """Part size S3 and the Go SDK both accept for an object of ``size`` bytes.

    Starts from ``requested`` (default 8 MiB), never below 5 MiB, and doubles
    until the object fits in at most 10,000 parts.
    """
    part = max(requested or DEFAULT_PART_SIZE, MIN_PART_SIZE)
    while math.ceil(size / part) > MAX_PARTS:
        part *= 2
    return part


def part_count(size: int, part_size: int) -> int:
    return max(1, math.ceil(size / part_size))


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a whole file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def md5_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def multipart_etag(part_md5s: Iterable[bytes]) -> str:
    """S3's multipart ETag: md5 of the concatenated binary part md5s, then ``-N``."""
    digests = list(part_md5s)
    combined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
    return f"{combined}-{len(digests)}"


def multipart_etag_of_file(path: str | os.PathLike[str], part_size: int) -> str:
    """The multipart ETag a file would have had if uploaded in ``part_size`` parts."""
    digests = []
    with open(path, "rb") as fh:
        while True:
            part = hashlib.md5(usedforsecurity=False)
            read = 0
            while read < part_size and (chunk := fh.read(min(CHUNK, part_size - read))):
                part.update(chunk)
                read += len(chunk)
            if read == 0 and digests:
                break
            digests.append(part.digest())
            if read < part_size:
                break
    return multipart_etag(digests)


def parse_etag(etag: str) -> tuple[str, int | None]:
    """Split an ETag into its hex digest and the part count (None for a single-part ETag)."""
    value = etag.strip().strip('"')
    digest, sep, count = value.partition("-")
    if sep and count.isdigit():
        return digest, int(count)
    return value, None


SHA256_KEY = "sha256"
"""The user-metadata entry holding the full object's sha256, as hex."""


def kms_encrypted(response: Mapping[str, Any]) -> bool:
    """SSE-KMS ETags are not md5s of the data, so they cannot be compared."""
    return str(response.get("ServerSideEncryption", "")).startswith("aws:kms")
