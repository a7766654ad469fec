"""A Sentry ingest endpoint on loopback, recording what the SDK sends."""

from __future__ import annotations

import gzip
import importlib
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sentry_sdk
from sentry_sdk.envelope import Envelope


class IngestServer(ThreadingHTTPServer):
    """Records ``(path, body)`` of each envelope as a Sentry ingest endpoint receives it."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _IngestHandler)
        self.bodies: list[tuple[str, bytes]] = []
        self.received = threading.Event()

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.server_address[1]}/1"

    def items(self) -> list[tuple[dict[str, Any], Any]]:
        """``(item header, JSON payload)`` of every envelope item received."""
        found = []
        for _, body in self.bodies:
            for item in Envelope.deserialize(body).items:
                payload = item.payload.json
                if payload is None and item.payload.bytes:
                    payload = json.loads(item.payload.bytes)
                found.append((item.headers, payload))
        return found

    def events(self) -> list[dict[str, Any]]:
        return [payload for headers, payload in self.items() if headers.get("type") == "event"]


class _IngestHandler(BaseHTTPRequestHandler):
    server: IngestServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            body = importlib.import_module("brotli").decompress(body)
        self.server.bodies.append((self.path, body))
        self.server.received.set()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def sentry_off() -> None:
    """Close and forget any Sentry client and what the scopes gathered (tags, breadcrumbs).

    One test's client, tags or breadcrumbs must never reach another's events.
    """
    sentry_sdk.get_client().close()
    for scope in (
        sentry_sdk.get_global_scope(),
        sentry_sdk.get_isolation_scope(),
        sentry_sdk.get_current_scope(),
    ):
        scope.clear()
    sentry_sdk.get_global_scope().set_client(None)
