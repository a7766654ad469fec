"""The HTTP face of the local Batch runner: AWS Batch's REST-JSON wire format.

boto3 posts each Batch operation as a JSON body to its own path
(``POST /v1/submitjob``); answers are JSON, and errors are a 4xx status with
the error code in ``__type`` and ``x-amzn-ErrorType``, which botocore turns
into ``botocore.exceptions.ClientError``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger("yarracloud.local_batch")

Dispatch = Callable[[str, dict[str, Any]], dict[str, Any]]
"""Runs one operation (AWS's name, e.g. ``"SubmitJob"``) on a request body."""

ROUTES: dict[str, str] = {
    f"/v1/{operation.lower()}": operation
    for operation in (
        "CreateComputeEnvironment",
        "DescribeComputeEnvironments",
        "CreateJobQueue",
        "DescribeJobQueues",
        "RegisterJobDefinition",
        "DescribeJobDefinitions",
        "SubmitJob",
        "DescribeJobs",
        "ListJobs",
        "TerminateJob",
        "CancelJob",
    )
}
"""Request path → operation, for the operations the local runner serves."""


class BatchClientError(Exception):
    """A request AWS Batch would refuse with ``ClientException`` (HTTP 400)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], dispatch: Dispatch) -> None:
        super().__init__(address, _Handler)
        self.dispatch = dispatch


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        operation = ROUTES.get(self.path.split("?", 1)[0].rstrip("/").lower())
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if operation is None:
            self._error(f"{self.command} {self.path} is not served by the local Batch runner")
            return
        try:
            request = json.loads(raw) if raw.strip() else {}
            if not isinstance(request, dict):
                raise BatchClientError("The request body must be a JSON object.")
            self._send(HTTPStatus.OK, self.server.dispatch(operation, request))
        except json.JSONDecodeError as error:
            self._error(f"The request body is not JSON: {error}")
        except BatchClientError as error:
            self._error(str(error))
        except Exception as error:
            logger.exception("local Batch runner failed on %s", operation)
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"__type": "ServerException", "message": f"{operation} failed: {error}"},
                error_type="ServerException",
            )

    def do_GET(self) -> None:
        self._error(f"{self.command} {self.path} is not served by the local Batch runner")

    do_PUT = do_DELETE = do_GET

    def _error(self, message: str) -> None:
        self._send(
            HTTPStatus.BAD_REQUEST,
            {"__type": "ClientException", "message": message},
            error_type="ClientException",
        )

    def _send(self, status: HTTPStatus, body: dict[str, Any], error_type: str = "") -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the per-request access log out of the output."""


class BatchHttpServer:
    """Serves ``dispatch`` over HTTP on 127.0.0.1, on a port the OS hands out."""

    def __init__(self, dispatch: Dispatch) -> None:
        self._server = _Server(("127.0.0.1", 0), dispatch)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-batch-http", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        """Start serving in a daemon thread; return the endpoint URL."""
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
