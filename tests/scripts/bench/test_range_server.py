"""The plain HTTP file server the download benches are judged against, over real loopback HTTP."""

from __future__ import annotations

import http.client
import random
import urllib.parse
from pathlib import Path

from scripts.bench.range_server import fetch_ranges, serve


def test_fetch_ranges_downloads_the_file_byte_for_byte(tmp_path: Path) -> None:
    data = random.Random(3).randbytes(5 * 1000 * 1000 + 17)
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "scan.dat").write_bytes(data)

    with serve(tmp_path / "served") as url:
        size = fetch_ranges(
            f"{url}/scan.dat", tmp_path / "copy.dat", part_size=1 << 20, concurrency=3
        )

    assert size == len(data)
    assert (tmp_path / "copy.dat").read_bytes() == data


def test_a_range_is_answered_206_with_those_bytes_and_a_missing_file_404(tmp_path: Path) -> None:
    (tmp_path / "scan.dat").write_bytes(bytes(range(256)) * 4)

    with serve(tmp_path) as url:
        address = urllib.parse.urlsplit(url)
        connection = http.client.HTTPConnection(address.hostname, address.port)
        connection.request("GET", "/scan.dat", headers={"Range": "bytes=10-19"})
        ranged = connection.getresponse()
        body = ranged.read()
        connection.request("GET", "/other.dat")
        missing = connection.getresponse()
        missing.read()
        connection.request("GET", "/../scan.dat")
        outside = connection.getresponse()
        outside.read()

    assert ranged.status == 206
    assert ranged.headers["Content-Range"] == "bytes 10-19/1024"
    assert body == bytes(range(10, 20))
    assert missing.status == 404
    assert outside.status == 404
