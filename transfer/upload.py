"""Resumable, verified multipart upload on boto3's low-level S3 calls.

The full-object sha256 goes into the object's user metadata, which S3 fixes at
CreateMultipartUpload, so it must be known before the first part is sent: a
first sequential pass hashes the (patched) file, then the parts go in parallel.
Reading a local disk is far faster than a hospital uplink, so the pass costs
little; a resumed upload reuses the hash from its journal.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from transfer import journal
from transfer.errors import IntegrityError, TransferError
from transfer.integrity import (
    SHA256_KEY,
    kms_encrypted,
    multipart_etag,
    parse_etag,
    part_count,
    part_size_for,
)
from transfer.parallel import run_bounded
from transfer.progress import ProgressCallback, ProgressTracker
from transfer.retry import Retry, error_code
from transfer.source import PatchedSource
from transfer.throttle import TokenBucket, body, bucket_for

CHECKSUM_REJECTED = {"NotImplemented", "InvalidRequest", "InvalidArgument", "BadDigest"}


@dataclass(frozen=True)
class UploadResult:
    """What was stored: ``parts`` in the object, ``parts_sent`` in this run."""

    bucket: str
    key: str
    size: int
    sha256: str
    etag: str
    parts: int
    parts_sent: int
    resumed: bool


def upload_file(
    s3: Any,
    path: str | Path,
    bucket: str,
    key: str,
    *,
    metadata: Mapping[str, str] | None = None,
    patches: Iterable[tuple[int, bytes]] = (),
    part_size: int | None = None,
    concurrency: int = 5,
    journal_dir: str | Path | None = None,
    progress: ProgressCallback | None = None,
    retry: Retry | None = None,
    bandwidth_bytes_per_second: float | None = None,
) -> UploadResult:
    """Upload ``path`` (with ``patches`` applied as it is read) to ``bucket/key``.

    Files smaller than one part go in one PutObject; larger ones in a multipart
    upload with at most ``concurrency`` parts in memory. A journal beside the
    file (or in ``journal_dir``) lets a later call resume the same upload; it is
    removed on success. ``bandwidth_bytes_per_second`` caps the rate of all
    parts together. Raises :class:`~transfer.errors.TransferError`.
    """
    retry = retry or Retry()
    throttle = bucket_for(bandwidth_bytes_per_second)
    path = Path(path)
    meta = dict(metadata or {})
    if SHA256_KEY in meta:
        raise ValueError(f"metadata {SHA256_KEY!r} is computed by the upload; do not pass it")
    with PatchedSource(path, patches) as source:
        size = part_size_for(source.size, part_size)
        if source.size < size:
            return _put_small(s3, source, bucket, key, meta, progress, retry, throttle)
        jpath = journal.upload_journal_path(
            path, bucket, key, Path(journal_dir) if journal_dir else None
        )
        return _Multipart(
            s3, source, bucket, key, meta, size, concurrency, jpath, progress, retry, throttle
        ).run()


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _checksum_rejected(exc: BaseException) -> bool:
    cause = exc.__cause__ if isinstance(exc, TransferError) else exc
    return isinstance(cause, ClientError) and error_code(cause) in CHECKSUM_REJECTED


def _put_small(
    s3: Any,
    source: PatchedSource,
    bucket: str,
    key: str,
    meta: dict[str, str],
    progress: ProgressCallback | None,
    retry: Retry,
    throttle: TokenBucket | None = None,
) -> UploadResult:
    data = source.read(0, source.size)
    sha = hashlib.sha256(data)
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    args = {
        "Bucket": bucket,
        "Key": key,
        "Metadata": {**meta, SHA256_KEY: sha.hexdigest()},
    }
    what = f"upload s3://{bucket}/{key}"
    try:
        response = retry.call(
            lambda: s3.put_object(
                **args, Body=body(data, throttle), ChecksumSHA256=_b64(sha.digest())
            ),
            what,
        )
    except TransferError as exc:
        if not _checksum_rejected(exc):
            raise
        response = retry.call(lambda: s3.put_object(**args, Body=body(data, throttle)), what)
    etag = parse_etag(response["ETag"])[0]
    if not kms_encrypted(response) and etag != md5:
        raise IntegrityError(
            f"s3://{bucket}/{key}: the server stored ETag {etag}, expected md5 {md5};"
            " the data was damaged in transit, upload again"
        )
    ProgressTracker(source.size, progress).add(source.size)
    return UploadResult(bucket, key, source.size, sha.hexdigest(), response["ETag"], 1, 1, False)


class _Multipart:
    def __init__(
        self,
        s3: Any,
        source: PatchedSource,
        bucket: str,
        key: str,
        meta: dict[str, str],
        part_size: int,
        concurrency: int,
        jpath: Path,
        progress: ProgressCallback | None,
        retry: Retry,
        throttle: TokenBucket | None = None,
    ) -> None:
        self.throttle = throttle
        self.s3, self.source, self.bucket, self.key = s3, source, bucket, key
        self.meta, self.part_size, self.concurrency = meta, part_size, max(1, concurrency)
        self.jpath, self.progress, self.retry = jpath, progress, retry
        self.where = f"s3://{bucket}/{key}"
        self.lock = threading.Lock()
        self.state: dict[str, Any] = {}
        self.kms = False

    # -- the journal ------------------------------------------------------------------

    def _identity(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "source_size": self.source.size,
            "source_mtime_ns": self.source.mtime_ns,
            "source_fingerprint": self.source.fingerprint(),
            "patches_fingerprint": self.source.patches_fingerprint(),
        }

    def _save(self) -> None:
        with self.lock:
            journal.save(self.jpath, self.state)

    # -- the steps --------------------------------------------------------------------

    def run(self) -> UploadResult:
        identity = self._identity()
        server_parts = self._resume(identity)
        resumed = server_parts is not None
        if server_parts is None:
            self._start(identity)
            server_parts = {}
        self.part_size = self.state["part_size"]
        total = part_count(self.source.size, self.part_size)
        kept = self._keep(server_parts)
        missing = [n for n in range(1, total + 1) if n not in kept]
        tracker = ProgressTracker(
            self.source.size,
            self.progress,
            initial=sum(self._span(n)[1] for n in kept),
        )
        self._send(missing, tracker)
        stat = self.source.path.stat()
        if (stat.st_size, stat.st_mtime_ns) != (self.source.size, self.source.mtime_ns):
            raise TransferError(
                f"{self.source.path} changed while it was being uploaded to {self.where};"
                " run again once it is final (the upload starts over)"
            )
        result = self._complete(total)
        journal.remove(self.jpath)
        return UploadResult(
            self.bucket,
            self.key,
            self.source.size,
            self.state["sha256"],
            result,
            total,
            len(missing),
            resumed,
        )

    def _resume(self, identity: dict[str, Any]) -> dict[int, dict[str, Any]] | None:
        """Server parts of the journal's upload, or None to start over."""
        old = journal.load(self.jpath)
        if old is None:
            return None
        if any(old.get(k) != v for k, v in identity.items()):
            # The source or its patches changed: what is on the server is of no use.
            self._abort(old)
            journal.remove(self.jpath)
            return None
        self.state = old
        try:
            return self._list_parts(old["upload_id"])
        except TransferError as exc:
            if error_code(exc.__cause__) != "NoSuchUpload":
                raise
            journal.remove(self.jpath)
            self.state = {}
            return None

    def _abort(self, old: dict[str, Any]) -> None:
        if old.get("bucket") != self.bucket or old.get("key") != self.key:
            return
        try:
            self.retry.call(
                lambda: self.s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=old["upload_id"]
                ),
                f"abort the stale upload of {self.where}",
            )
        except TransferError as exc:
            if error_code(exc.__cause__) != "NoSuchUpload":
                raise

    def _list_parts(self, upload_id: str) -> dict[int, dict[str, Any]]:
        parts: dict[int, dict[str, Any]] = {}
        marker = 0
        while True:
            response = self.retry.call(
                lambda marker=marker: self.s3.list_parts(
                    Bucket=self.bucket, Key=self.key, UploadId=upload_id, PartNumberMarker=marker
                ),
                f"list the parts already sent to {self.where}",
            )
            for part in response.get("Parts", []):
                parts[part["PartNumber"]] = part
            if not response.get("IsTruncated"):
                return parts
            marker = response["NextPartNumberMarker"]

    def _start(self, identity: dict[str, Any]) -> None:
        sha = self.source.sha256()
        args = {"Bucket": self.bucket, "Key": self.key, "Metadata": {**self.meta, SHA256_KEY: sha}}
        what = f"start the upload of {self.where}"
        checksums: str | None = "SHA256"
        try:
            response = self.retry.call(
                lambda: self.s3.create_multipart_upload(**args, ChecksumAlgorithm="SHA256"), what
            )
        except TransferError as exc:
            if not _checksum_rejected(exc):
                raise
            checksums = None
            response = self.retry.call(lambda: self.s3.create_multipart_upload(**args), what)
        self.state = {
            **identity,
            "upload_id": response["UploadId"],
            "part_size": self.part_size,
            "sha256": sha,
            "checksum_algorithm": checksums,
            "parts": {},
        }
        self._save()

    def _span(self, number: int) -> tuple[int, int]:
        offset = (number - 1) * self.part_size
        return offset, min(self.part_size, self.source.size - offset)

    def _keep(self, server_parts: dict[int, dict[str, Any]]) -> set[int]:
        """Server parts that hold exactly the bytes we would send; the rest go again."""
        kept = set()
        recorded = self.state["parts"]
        for number, part in server_parts.items():
            offset, length = self._span(number)
            if length <= 0 or part.get("Size") != length:
                continue
            entry = recorded.get(str(number))
            if entry is None or entry["etag"] != part["ETag"]:
                # Sent, but the journal missed it (killed in between): hash it here.
                data = self.source.read(offset, length)
                md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
                if parse_etag(part["ETag"])[0] != md5:
                    continue
                entry = {
                    "etag": part["ETag"],
                    "md5": md5,
                    "sha256": _b64(hashlib.sha256(data).digest()),
                }
                recorded[str(number)] = entry
            kept.add(number)
        for number in list(recorded):
            if int(number) not in kept:
                del recorded[number]
        self._save()
        return kept

    def _send(self, numbers: list[int], tracker: ProgressTracker) -> None:
        """Send parts with at most ``concurrency`` in flight (and so in memory)."""
        run_bounded(
            lambda number: self._send_part(number, tracker), numbers, self.concurrency, "upload"
        )

    def _send_part(self, number: int, tracker: ProgressTracker) -> None:
        offset, length = self._span(number)
        data = self.source.read(offset, length)
        sha = _b64(hashlib.sha256(data).digest())
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        args = {
            "Bucket": self.bucket,
            "Key": self.key,
            "UploadId": self.state["upload_id"],
            "PartNumber": number,
        }
        if self.state["checksum_algorithm"]:
            args["ChecksumSHA256"] = sha
        response = self.retry.call(
            lambda: self.s3.upload_part(**args, Body=body(data, self.throttle)),
            f"upload part {number} of {self.where}",
        )
        if kms_encrypted(response):
            self.kms = True
        elif parse_etag(response["ETag"])[0] != md5:
            raise IntegrityError(
                f"{self.where} part {number}: the server stored ETag {response['ETag']},"
                f" expected md5 {md5}; the data was damaged in transit, run again to resend it"
            )
        with self.lock:
            self.state["parts"][str(number)] = {"etag": response["ETag"], "md5": md5, "sha256": sha}
        self._save()
        tracker.add(length)

    def _complete(self, total: int) -> str:
        parts = []
        md5s = []
        for number in range(1, total + 1):
            entry = self.state["parts"][str(number)]
            part = {"PartNumber": number, "ETag": entry["etag"]}
            if self.state["checksum_algorithm"]:
                part["ChecksumSHA256"] = entry["sha256"]
            parts.append(part)
            md5s.append(bytes.fromhex(entry["md5"]))
        response = self.retry.call(
            lambda: self.s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.state["upload_id"],
                MultipartUpload={"Parts": parts},
            ),
            f"complete the upload of {self.where}",
        )
        expected = multipart_etag(md5s)
        etag = response["ETag"].strip('"')
        if not (self.kms or kms_encrypted(response)) and etag != expected:
            raise IntegrityError(
                f"{self.where}: the server's ETag {etag} differs from the expected {expected};"
                " delete the object and upload again"
            )
        return response["ETag"]


__all__ = ["UploadResult", "upload_file"]
