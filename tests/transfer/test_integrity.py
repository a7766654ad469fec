"""Checksums and part sizing, without a server."""

from __future__ import annotations

import hashlib
import random

from transfer.integrity import (
    MIB,
    multipart_etag,
    multipart_etag_of_file,
    parse_etag,
    part_size_for,
    sha256_file,
)
from transfer.progress import ProgressTracker
from transfer.source import PatchedSource


def test_part_size_grows_to_stay_within_10000_parts():
    assert part_size_for(100) == 8 * MIB
    assert part_size_for(100, 1) == 5 * MIB
    size = 200 * 1024 * MIB  # 200 GiB
    part = part_size_for(size)
    assert part >= 5 * MIB and -(-size // part) <= 10_000


def test_multipart_etag_of_file(tmp_path):
    data = random.Random(3).randbytes(11 * MIB)
    (tmp_path / "f").write_bytes(data)
    chunks = [data[i : i + 5 * MIB] for i in range(0, len(data), 5 * MIB)]
    md5s = [hashlib.md5(c).digest() for c in chunks]
    expected = hashlib.md5(b"".join(md5s)).hexdigest() + "-3"
    assert multipart_etag(md5s) == expected
    assert multipart_etag_of_file(tmp_path / "f", 5 * MIB) == expected
    assert sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()


def test_parse_etag():
    assert parse_etag('"abc-12"') == ("abc", 12)
    assert parse_etag('"abc"') == ("abc", None)


def test_patched_source_reads_across_patch_edges(tmp_path):
    (tmp_path / "f").write_bytes(b"0123456789")
    with PatchedSource(tmp_path / "f", [(2, b"ab"), (8, b"YZ")]) as source:
        assert source.read(0, 10) == b"01ab4567YZ"
        assert source.read(3, 6) == b"b4567Y"
        assert source.sha256() == hashlib.sha256(b"01ab4567YZ").hexdigest()
    assert (tmp_path / "f").read_bytes() == b"0123456789"


def test_progress_rate_and_eta():
    now = [0.0]
    reports = []
    tracker = ProgressTracker(100, reports.append, initial=20, clock=lambda: now[0])
    now[0] = 2.0
    tracker.add(40)
    report = reports[-1]
    assert (report.done, report.total, report.rate, report.eta) == (60, 100, 20.0, 2.0)
