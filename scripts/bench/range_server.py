"""A plain HTTP file server that answers byte ranges, and a client that fetches ranges from it.

The baseline for a download from the local S3: the same ranges, with the same
number of connections, served from a file by the kernel (``sendfile``) with
no S3 in between. Whatever a download from the emulator costs beyond it is
the emulator's or the client's, not the bytes'.

    with serve(folder) as url:
        fetch_ranges(f"{url}/name.dat", dest, part_size=8 * MIB, concurrency=5)
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import threading
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")
_CHUNK = 1 << 20


class RangeHandler(BaseHTTPRequestHandler):
    """GET and HEAD of the files in ``folder``; ``Range: bytes=a-b`` gets 206 and those bytes."""

    protocol_version = "HTTP/1.1"  # keep-alive: one connection per client thread, as S3 clients do

    def __init__(self, *args: object, folder: Path, **kwargs: object) -> None:
        self.folder = folder
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def log_message(self, format: str, *args: object) -> None:
        """Silent: a bench prints its table only."""

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        name = urllib.parse.unquote(self.path.lstrip("/"))
        path = (self.folder / name).resolve()
        if path.parent != self.folder.resolve() or not path.is_file():
            self.send_error(404)
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        wanted = self.headers.get("Range")
        if wanted is not None:
            match = _RANGE.match(wanted)
            if match is None or int(match.group(1)) >= size:
                self.send_error(416)
                return
            start, end = int(match.group(1)), min(int(match.group(2)), size - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        if not body:
            return
        self.wfile.flush()
        with path.open("rb") as source:
            offset, left = start, end - start + 1
            while left:
                sent = os.sendfile(self.connection.fileno(), source.fileno(), offset, left)
                if not sent:
                    raise ConnectionError("the client closed the connection")
                offset += sent
                left -= sent


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on a loopback port the system picks; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, folder=folder))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def fetch_ranges(url: str, dest: Path, *, part_size: int, concurrency: int) -> int:
    """Download ``url`` into ``dest`` in ``part_size`` ranges over ``concurrency`` connections.

    Returns the bytes fetched. Each thread keeps one connection and writes its
    ranges at their offsets, as a ranged S3 download does.
    """
    parsed = urllib.parse.urlsplit(url)
    local = threading.local()

    def connection() -> http.client.HTTPConnection:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection(parsed.hostname, parsed.port)
        return local.connection

    head = connection()
    head.request("HEAD", parsed.path)
    answer = head.getresponse()
    answer.read()
    if answer.status != 200:
        raise RuntimeError(f"HEAD {url} answered {answer.status}")
    size = int(answer.headers["Content-Length"])
    with dest.open("wb") as out:
        out.truncate(size)
    fd = os.open(dest, os.O_WRONLY)

    def fetch(start: int) -> None:
        end = min(size, start + part_size) - 1
        http = connection()
        http.request("GET", parsed.path, headers={"Range": f"bytes={start}-{end}"})
        reply = http.getresponse()
        if reply.status != 206:
            raise RuntimeError(f"GET {url} bytes {start}-{end} answered {reply.status}")
        offset = start
        while chunk := reply.read(_CHUNK):
            os.pwrite(fd, chunk, offset)
            offset += len(chunk)
        if offset != end + 1:
            raise RuntimeError(f"GET {url} bytes {start}-{end} ended at {offset}")

    try:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(fetch, range(0, size, part_size)))
    finally:
        os.close(fd)
    return size
