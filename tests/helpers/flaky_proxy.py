"""An unreliable HTTP endpoint on loopback: forwards to a real one, but drops and fails at random.

Each request is decided by a seeded ``random.Random``: dropped (the connection
closes without an answer), refused with ``500 InternalError`` and an S3-style
XML body, or forwarded unchanged with ``http.client``. Faults happen before the
request is forwarded, so the upstream never sees a faulted request and the
data itself is never altered. Every answer closes its connection.

    with FlakyProxy("http://127.0.0.1:5000", drop_rate=0.15, error_rate=0.15, seed=7) as proxy:
        client = boto3.client("s3", endpoint_url=proxy.url, ...)
"""

from __future__ import annotations

import http.client
import random
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
}
ERROR_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>InternalError</Code>"
    b"<Message>We encountered an internal error. Please try again.</Message>"
    b"<RequestId>FLAKYPROXY</RequestId></Error>"
)


@dataclass
class Counters:
    forwarded: int = 0
    dropped: int = 0
    errors: int = 0

    @property
    def faults(self) -> int:
        return self.dropped + self.errors


class FlakyProxy:
    """A proxy on ``127.0.0.1`` (port picked by the OS) in front of ``upstream``."""

    def __init__(
        self,
        upstream: str,
        *,
        drop_rate: float = 0.15,
        error_rate: float = 0.15,
        seed: int = 0,
        timeout: float = 60.0,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.drop_rate = drop_rate
        self.error_rate = error_rate
        self.timeout = timeout
        self.counters = Counters()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def decide(self) -> str:
        """``drop``, ``error`` or ``forward`` for the next request (in arrival order)."""
        with self._lock:
            roll = self._rng.random()
            if roll < self.drop_rate:
                self.counters.dropped += 1
                return "drop"
            if roll < self.drop_rate + self.error_rate:
                self.counters.errors += 1
                return "error"
            self.counters.forwarded += 1
            return "forward"

    def start(self) -> FlakyProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FlakyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler_for(proxy: FlakyProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # answers Expect: 100-continue itself

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _relay(self) -> None:
            body = self._body()
            choice = proxy.decide()
            if choice == "drop":
                self.close_connection = True
                return  # the server closes the socket without a word
            if choice == "error":
                self.send_response(500)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(ERROR_BODY)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(ERROR_BODY)
                self.close_connection = True
                return
            self._forward(body)

        def _forward(self, body: bytes) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream = http.client.HTTPConnection(
                proxy.upstream_host, proxy.upstream_port, timeout=proxy.timeout
            )
            try:
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                self.send_response_only(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() in HOP_BY_HOP or name.lower() == "content-length":
                        continue
                    self.send_header(name, value)
                length = response.getheader("Content-Length")
                if self.command == "HEAD" and length is not None:
                    self.send_header("Content-Length", length)
                else:
                    self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
            finally:
                upstream.close()
            self.close_connection = True

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

    return Handler
