"""Uploads against the AWS emulator: sizes, patches, resume, retries, auth failures."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from transfer import AuthError, Retry, TransferError, download_object, upload_file
from transfer.integrity import MIB
from transfer.journal import upload_journal_path


def make_file(path: Path, size: int, seed: int = 1) -> bytes:
    data = random.Random(seed).randbytes(size)
    path.write_bytes(data)
    return data


class Failing:
    """Passes calls through to ``s3``; ``upload_part`` is refused once ``after`` parts went."""

    def __init__(self, s3, after: int | None = None, code: str = "AccessDenied") -> None:
        self.s3, self.after, self.code = s3, after, code
        self.parts: list[int] = []

    def upload_part(self, **kwargs):
        if self.after is not None and len(self.parts) >= self.after:
            raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "UploadPart")
        self.parts.append(kwargs["PartNumber"])
        return self.s3.upload_part(**kwargs)

    def __getattr__(self, name):
        return getattr(self.s3, name)


@pytest.mark.parametrize("size", [0, 1, 5 * MIB - 1, 17 * MIB])
def test_round_trip_sizes(s3, bucket, tmp_path, size):
    data = make_file(tmp_path / "raw.dat", size)
    result = upload_file(s3, tmp_path / "raw.dat", bucket, "u/x/raw.dat", part_size=5 * MIB)
    sha = hashlib.sha256(data).hexdigest()
    assert result.sha256 == sha
    assert s3.head_object(Bucket=bucket, Key="u/x/raw.dat")["Metadata"]["sha256"] == sha
    got = download_object(s3, bucket, "u/x/raw.dat", tmp_path / "out" / "raw.dat")
    assert got.verified_by == "sha256"
    assert (tmp_path / "out" / "raw.dat").read_bytes() == data
    assert not list(tmp_path.glob(".*.upload.json"))


def test_multipart_uses_part_checksums_and_journal_records_them(s3, bucket, tmp_path):
    make_file(tmp_path / "f", 11 * MIB)
    journals = []

    def spy(progress):
        journals.append(
            json.loads(upload_journal_path(tmp_path / "f", bucket, "k", None).read_text())
        )

    result = upload_file(s3, tmp_path / "f", bucket, "k", part_size=5 * MIB, progress=spy)
    assert (result.parts, result.parts_sent) == (3, 3)
    assert journals[-1]["checksum_algorithm"] == "SHA256"
    assert all(part["sha256"] for part in journals[-1]["parts"].values())


def test_patched_upload_sends_patched_bytes_and_leaves_file_alone(s3, bucket, tmp_path):
    data = make_file(tmp_path / "raw.dat", 6 * MIB)
    patches = [(0, b"ANON" * 4), (5 * MIB - 2, b"XYZW")]  # the second crosses a part boundary
    upload_file(s3, tmp_path / "raw.dat", bucket, "k", patches=patches, part_size=5 * MIB)
    expected = bytearray(data)
    for offset, patch in patches:
        expected[offset : offset + len(patch)] = patch
    stored = s3.get_object(Bucket=bucket, Key="k")
    assert stored["Body"].read() == bytes(expected)
    assert stored["Metadata"]["sha256"] == hashlib.sha256(expected).hexdigest()
    assert (tmp_path / "raw.dat").read_bytes() == data


@pytest.mark.parametrize("patches", [[(0, b"abcd"), (2, b"xy")], [(10, b"too long")], [(-1, b"x")]])
def test_bad_patches_rejected(s3, bucket, tmp_path, patches):
    make_file(tmp_path / "f", 12)
    with pytest.raises(ValueError):
        upload_file(s3, tmp_path / "f", bucket, "k", patches=patches)


def test_resume_sends_only_missing_parts(s3, bucket, tmp_path):
    data = make_file(tmp_path / "f", 26 * MIB)  # 6 parts of 5 MiB (last 1 MiB)
    first = Failing(s3, after=2)
    with pytest.raises(AuthError):
        upload_file(
            s3=first, path=tmp_path / "f", bucket=bucket, key="k", part_size=5 * MIB, concurrency=1
        )
    state = json.loads(upload_journal_path(tmp_path / "f", bucket, "k", None).read_text())
    listed = s3.list_parts(Bucket=bucket, Key="k", UploadId=state["upload_id"])["Parts"]
    on_server = {part["PartNumber"] for part in listed}
    assert on_server == {1, 2}

    second = Failing(s3)
    result = upload_file(second, tmp_path / "f", bucket, "k", part_size=5 * MIB)
    assert result.resumed
    assert sorted(second.parts) == [3, 4, 5, 6]
    assert result.parts_sent == 4
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == data
    assert not upload_journal_path(tmp_path / "f", bucket, "k", None).exists()


def test_resume_hashes_parts_the_journal_missed(s3, bucket, tmp_path):
    make_file(tmp_path / "f", 16 * MIB)
    with pytest.raises(AuthError):
        upload_file(
            Failing(s3, after=2), tmp_path / "f", bucket, "k", part_size=5 * MIB, concurrency=1
        )
    jpath = upload_journal_path(tmp_path / "f", bucket, "k", None)
    state = json.loads(jpath.read_text())
    state["parts"] = {}  # as if killed after sending, before writing the journal
    jpath.write_text(json.dumps(state))
    second = Failing(s3)
    upload_file(second, tmp_path / "f", bucket, "k", part_size=5 * MIB)
    assert sorted(second.parts) == [3, 4]


def test_aborted_upload_restarts_cleanly(s3, bucket, tmp_path):
    data = make_file(tmp_path / "f", 11 * MIB)
    with pytest.raises(AuthError):
        upload_file(
            Failing(s3, after=1), tmp_path / "f", bucket, "k", part_size=5 * MIB, concurrency=1
        )
    state = json.loads(upload_journal_path(tmp_path / "f", bucket, "k", None).read_text())
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=state["upload_id"])
    second = Failing(s3)
    result = upload_file(second, tmp_path / "f", bucket, "k", part_size=5 * MIB)
    assert not result.resumed
    assert sorted(second.parts) == [1, 2, 3]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == data


@pytest.mark.parametrize("change", ["content", "patches"])
def test_changed_source_or_patches_start_over(s3, bucket, tmp_path, change):
    make_file(tmp_path / "f", 11 * MIB)
    with pytest.raises(AuthError):
        upload_file(
            Failing(s3, after=1), tmp_path / "f", bucket, "k", part_size=5 * MIB, concurrency=1
        )
    old = json.loads(upload_journal_path(tmp_path / "f", bucket, "k", None).read_text())
    patches = []
    if change == "content":
        data = make_file(tmp_path / "f", 11 * MIB, seed=2)
    else:
        patches = [(0, b"new header")]
        data = b"new header" + (tmp_path / "f").read_bytes()[10:]
    second = Failing(s3)
    result = upload_file(second, tmp_path / "f", bucket, "k", part_size=5 * MIB, patches=patches)
    assert not result.resumed and sorted(second.parts) == [1, 2, 3]
    stored = s3.get_object(Bucket=bucket, Key="k")
    assert stored["Body"].read() == data
    assert stored["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert old["upload_id"] not in {u["UploadId"] for u in uploads}


def test_auth_error_is_not_retried_and_says_what_to_do(s3, bucket, tmp_path):
    make_file(tmp_path / "f", 100)
    sleeps = []

    class Denied(Failing):
        calls = 0

        def put_object(self, **kwargs):
            Denied.calls += 1
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")

    with pytest.raises(AuthError, match="check the access key") as caught:
        upload_file(Denied(s3), tmp_path / "f", bucket, "k", retry=Retry(sleep=sleeps.append))
    assert "s3://" in str(caught.value)
    assert Denied.calls == 1 and sleeps == []


def test_server_errors_are_retried_with_backoff(s3, bucket, tmp_path):
    data = make_file(tmp_path / "f", 11 * MIB)
    sleeps: list[float] = []

    class Flaky(Failing):
        failures = 3

        def upload_part(self, **kwargs):
            if Flaky.failures:
                Flaky.failures -= 1
                raise ClientError(
                    {
                        "Error": {"Code": "InternalError", "Message": "boom"},
                        "ResponseMetadata": {"HTTPStatusCode": 500},
                    },
                    "UploadPart",
                )
            return super().upload_part(**kwargs)

    retry = Retry(base=1.0, cap=8.0, sleep=sleeps.append, rng=random.Random(7))
    upload_file(
        Flaky(s3), tmp_path / "f", bucket, "k", part_size=5 * MIB, concurrency=1, retry=retry
    )
    assert len(sleeps) == 3
    assert [0 <= s <= 2**i for i, s in enumerate(sleeps)] == [True] * 3
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == data


def test_retries_run_out_with_a_clear_message(s3, bucket, tmp_path):
    make_file(tmp_path / "f", 10)

    class Down(Failing):
        def put_object(self, **kwargs):
            raise ClientError(
                {
                    "Error": {"Code": "SlowDown", "Message": "slow"},
                    "ResponseMetadata": {"HTTPStatusCode": 503},
                },
                "PutObject",
            )

    sleeps: list[float] = []
    with pytest.raises(TransferError, match="after 3 attempts"):
        upload_file(
            Down(s3), tmp_path / "f", bucket, "k", retry=Retry(attempts=3, sleep=sleeps.append)
        )
    assert len(sleeps) == 2


def test_transient_and_permanent_errors_are_told_apart():
    from botocore.exceptions import EndpointConnectionError

    from transfer.retry import is_transient

    assert is_transient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    throttled = ClientError({"Error": {"Code": "SlowDown"}}, "PutObject")
    assert is_transient(throttled)
    assert not is_transient(ClientError({"Error": {"Code": "AccessDenied"}}, "PutObject"))
    assert not is_transient(ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject"))


def test_download_retries_a_dropped_connection(s3, bucket, tmp_path):
    from botocore.exceptions import ConnectionClosedError

    data = make_file(tmp_path / "f", 3 * MIB)
    upload_file(s3, tmp_path / "f", bucket, "k")
    sleeps: list[float] = []

    class Dropping(Failing):
        drops = 2

        def get_object(self, **kwargs):
            if Dropping.drops:
                Dropping.drops -= 1
                raise ConnectionClosedError(endpoint_url="http://emulator")
            return self.s3.get_object(**kwargs)

    result = download_object(
        Dropping(s3), bucket, "k", tmp_path / "d", part_size=MIB, retry=Retry(sleep=sleeps.append)
    )
    assert result.verified_by == "sha256" and len(sleeps) == 2
    assert (tmp_path / "d").read_bytes() == data


def test_file_changed_during_upload_is_refused(s3, bucket, tmp_path):
    import os

    make_file(tmp_path / "f", 11 * MIB)

    def touch(progress):
        os.utime(tmp_path / "f", ns=(1, 1))

    with pytest.raises(TransferError, match="changed while it was being uploaded"):
        upload_file(s3, tmp_path / "f", bucket, "k", part_size=5 * MIB, progress=touch)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
