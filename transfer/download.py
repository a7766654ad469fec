"""Resumable, verified download: ranged parallel GETs into ``dest.part``, then verify and rename."""

from __future__ import annotations

import base64
import contextlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transfer import journal
from transfer.errors import IntegrityError, TransferError
from transfer.integrity import (
    CHUNK,
    DEFAULT_PART_SIZE,
    MIB,
    SHA256_KEY,
    kms_encrypted,
    md5_file,
    multipart_etag_of_file,
    parse_etag,
    part_count,
    sha256_file,
)
from transfer.parallel import run_bounded
from transfer.positional import RandomAccessFile
from transfer.progress import ProgressCallback, ProgressTracker
from transfer.replacing import replace_file
from transfer.retry import Retry, ShortRead
from transfer.throttle import PACE_CHUNK, TokenBucket, bucket_for

logger = logging.getLogger("yarracloud.transfer")

INCOMPLETE = "INCOMPLETE"


@dataclass(frozen=True)
class DownloadResult:
    """``verified_by`` is ``sha256``, ``multipart-etag``, ``md5``, ``s3-checksum`` or
    ``unverified`` (an SSE-KMS object that carries no digest of its data)."""

    bucket: str
    key: str
    path: Path
    size: int
    etag: str
    verified_by: str
    ranges: int
    ranges_fetched: int
    resumed: bool


def download_object(
    s3: Any,
    bucket: str,
    key: str,
    dest_path: str | Path,
    *,
    part_size: int | None = None,
    concurrency: int = 5,
    progress: ProgressCallback | None = None,
    retry: Retry | None = None,
    bandwidth_bytes_per_second: float | None = None,
) -> DownloadResult:
    """Download ``bucket/key`` to ``dest_path``, verified, resuming an interrupted run.

    Ranges land in a preallocated ``dest_path + ".part"``; a journal beside it
    records finished ranges and the object's ETag, so a later call fetches only
    what is missing (or starts over if the object changed). On a checksum
    mismatch the temp file is deleted and :class:`IntegrityError` raised.
    ``bandwidth_bytes_per_second`` caps the rate of all ranges together.
    """
    return _download_object(
        s3,
        bucket,
        key,
        dest_path,
        part_size=part_size,
        concurrency=concurrency,
        progress=progress,
        retry=retry or Retry(),
        throttle=bucket_for(bandwidth_bytes_per_second),
    )


def _download_object(
    s3: Any,
    bucket: str,
    key: str,
    dest_path: str | Path,
    *,
    part_size: int | None,
    concurrency: int,
    progress: ProgressCallback | None,
    retry: Retry,
    throttle: TokenBucket | None,
) -> DownloadResult:
    dest = Path(dest_path)
    where = f"s3://{bucket}/{key}"
    head = retry.call(lambda: s3.head_object(Bucket=bucket, Key=key), f"read {where}")
    size, etag = int(head["ContentLength"]), head["ETag"]
    size_part = max(part_size or DEFAULT_PART_SIZE, 1)
    total = part_count(size, size_part) if size else 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    jpath = journal.download_journal_path(dest)

    old = journal.load(jpath)
    done: set[int] = set()
    if (
        old
        and (old.get("bucket"), old.get("key"), old.get("etag")) == (bucket, key, etag)
        and (old.get("size"), old.get("part_size")) == (size, size_part)
        and tmp.exists()
        and tmp.stat().st_size == size
    ):
        done = {int(n) for n in old.get("ranges", [])}
    else:
        journal.remove(jpath)
        with open(tmp, "wb") as fh:
            fh.truncate(size)
    resumed = bool(done)
    state = {"bucket": bucket, "key": key, "etag": etag, "size": size, "part_size": size_part}
    state["ranges"] = sorted(done)
    journal.save(jpath, state)
    missing = [n for n in range(total) if n not in done]
    tracker = ProgressTracker(
        size, progress, initial=sum(min(size_part, size - n * size_part) for n in done)
    )
    lock = threading.Lock()

    target = RandomAccessFile(tmp, "r+b")
    try:

        def fetch(number: int) -> None:
            start = number * size_part
            end = min(size, start + size_part) - 1
            retry.call(
                lambda: _get_range(s3, bucket, key, etag, target, start, end, throttle),
                f"download bytes {start}-{end} of {where}",
            )
            with lock:
                done.add(number)
                state["ranges"] = sorted(done)
                journal.save(jpath, state)
            tracker.add(end - start + 1)

        run_bounded(fetch, missing, concurrency, "download")
        target.sync()
    finally:
        target.close()

    try:
        verified_by = _verify(s3, bucket, key, head, tmp, retry)
    except IntegrityError:
        tmp.unlink(missing_ok=True)
        journal.remove(jpath)
        raise
    replace_file(tmp, dest)
    journal.remove(jpath)
    return DownloadResult(bucket, key, dest, size, etag, verified_by, total, len(missing), resumed)


def _get_range(
    s3: Any,
    bucket: str,
    key: str,
    etag: str,
    target: RandomAccessFile,
    start: int,
    end: int,
    throttle: TokenBucket | None = None,
) -> None:
    response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}", IfMatch=etag)
    body = response["Body"]
    offset = start
    size = CHUNK if throttle is None else PACE_CHUNK
    try:
        while chunk := body.read(size):
            if throttle is not None:
                throttle.consume(len(chunk))
            target.write_at(offset, chunk)
            offset += len(chunk)
    finally:
        body.close()
    if offset != end + 1:
        raise ShortRead(f"got {offset - start} of {end - start + 1} bytes")


def _verify(s3: Any, bucket: str, key: str, head: dict[str, Any], path: Path, retry: Retry) -> str:
    """Check the file against the best checksum the object carries; return which one."""
    where = f"s3://{bucket}/{key}"
    size = int(head["ContentLength"])
    expected_sha = head.get("Metadata", {}).get(SHA256_KEY)
    if expected_sha:
        actual = sha256_file(path)
        if actual != expected_sha.lower():
            raise IntegrityError(
                f"{where}: sha256 of the downloaded data is {actual}, the object's metadata says"
                f" {expected_sha}; the object or the transfer is damaged, nothing was kept"
            )
        return "sha256"
    if kms_encrypted(head):
        return _verify_kms_object(s3, bucket, key, path, retry)
    digest, parts = parse_etag(head["ETag"])
    if parts is None:
        actual = md5_file(path)
        if actual != digest:
            raise IntegrityError(
                f"{where}: md5 of the downloaded data is {actual}, the ETag says {digest};"
                " the transfer is damaged, nothing was kept"
            )
        return "md5"
    expected = f"{digest}-{parts}"
    candidates = []
    with contextlib.suppress(TransferError):
        first = retry.call(
            lambda: s3.head_object(Bucket=bucket, Key=key, PartNumber=1), f"read part 1 of {where}"
        )
        candidates.append(int(first["ContentLength"]))
    candidates += [8 * MIB, 5 * MIB, 16 * MIB]
    tried = []
    for part_size in dict.fromkeys(candidates):
        if part_size <= 0 or part_count(size, part_size) != parts or part_size in tried:
            continue
        tried.append(part_size)
        actual = multipart_etag_of_file(path, part_size)
        if actual == expected:
            return "multipart-etag"
    raise IntegrityError(
        f"{where}: multipart ETag of the downloaded data does not match {expected}"
        f" (part sizes tried: {tried or 'none fits'}); the transfer is damaged, nothing was kept"
    )


def _verify_kms_object(s3: Any, bucket: str, key: str, path: Path, retry: Retry) -> str:
    """An SSE-KMS object without a sha256 entry: its ETag is no digest of the data.

    S3's own full-object SHA-256 checksum is used where the writer asked for one;
    otherwise nothing on the server describes the data, and the download is
    reported as unverified (with a warning) rather than refused, since the
    AWS Go SDK's defaults write exactly such objects.
    """
    where = f"s3://{bucket}/{key}"
    head = retry.call(
        lambda: s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"),
        f"read the checksum of {where}",
    )
    stored = head.get("ChecksumSHA256")
    if stored and "-" not in stored:
        actual = base64.b64encode(bytes.fromhex(sha256_file(path))).decode()
        if actual != stored:
            raise IntegrityError(
                f"{where}: SHA-256 of the downloaded data is {actual}, S3's checksum says"
                f" {stored}; the transfer is damaged, nothing was kept"
            )
        return "s3-checksum"
    logger.warning(
        "%s is encrypted with SSE-KMS and carries neither a sha256 entry nor a full-object"
        " checksum, so its download cannot be verified; upload it with transfer/ to add one",
        where,
    )
    return "unverified"


def download_prefix(
    s3: Any,
    bucket: str,
    prefix: str,
    dest_dir: str | Path,
    *,
    part_size: int | None = None,
    concurrency: int = 5,
    progress: ProgressCallback | None = None,
    retry: Retry | None = None,
    bandwidth_bytes_per_second: float | None = None,
) -> list[DownloadResult]:
    """Fetch every object under ``prefix`` into ``dest_dir``, keeping names relative to it.

    An ``INCOMPLETE`` marker sits in ``dest_dir`` until every object is
    downloaded and verified, so a reader never mistakes a partial set for a whole one.
    ``bandwidth_bytes_per_second`` caps the rate of all objects and ranges together.
    """
    retry = retry or Retry()
    throttle = bucket_for(bandwidth_bytes_per_second)
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    marker = dest / INCOMPLETE
    marker.touch()
    keys = []
    token: dict[str, str] = {}
    while True:
        response = retry.call(
            lambda token=token: s3.list_objects_v2(Bucket=bucket, Prefix=prefix, **token),
            f"list s3://{bucket}/{prefix}",
        )
        keys += [item["Key"] for item in response.get("Contents", [])]
        if not response.get("IsTruncated"):
            break
        token = {"ContinuationToken": response["NextContinuationToken"]}
    results = []
    for key in keys:
        relative = key[len(prefix) :].lstrip("/")
        if not relative or key.endswith("/"):
            continue
        parts = Path(relative).parts
        if ".." in parts or relative == INCOMPLETE:
            raise TransferError(f"s3://{bucket}/{key}: refusing a name that leaves {dest}")
        results.append(
            _download_object(
                s3,
                bucket,
                key,
                dest / relative,
                part_size=part_size,
                concurrency=concurrency,
                progress=progress,
                retry=retry,
                throttle=throttle,
            )
        )
    marker.unlink()
    return results
