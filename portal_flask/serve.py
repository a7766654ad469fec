"""Serves the portal with waitress on a given or free port, and says where."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from waitress.server import create_server

from contracts.atomic_write import write_atomically
from portal_flask import create_app, observability
from portal_flask.config import PortalConfig

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    config: PortalConfig,
    host: str,
    port: int,
    ready_file: str | None,
    plain_http: bool,
    threads: int = 8,
    *,
    prepare: Callable[[Flask], None] | None = None,
) -> int:
    """Serve until SIGTERM or SIGINT; write ``http://host:port`` to ``ready_file`` first.

    ``prepare`` runs on the app before it serves (a deployment installing its key hook).
    """
    if plain_http:
        if not is_loopback(host):
            print(
                f"error: --plain-http serves session cookies without Secure; only on a loopback"
                f" address, not {host} (put TLS in front of the portal instead)",
                file=sys.stderr,
            )
            return 2
        config = config.with_(secure_cookies=False)
    observability.configure_logs()
    app = create_app(config)
    if prepare is not None:
        prepare(app)
    server = create_server(app, host=host, port=port, threads=threads, ident="yarracloud")
    bound_port = server.socket.getsockname()[1]
    url = f"http://{host}:{bound_port}"
    if ready_file:
        path = Path(ready_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, f"{url}\n".encode())
    log.info("portal listening", extra={"url": url})
    print(f"portal at {url}", flush=True)

    def stop(*_: object) -> None:
        server.close()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with contextlib.suppress(OSError):  # stop() closed the listening socket
        server.run()
    return 0
