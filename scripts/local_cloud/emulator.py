"""The AWS emulator: moto in server mode, in its own process, on a loopback port the OS picks.

Every emulator applies :mod:`~scripts.local_cloud.moto_speed` and
:mod:`~scripts.local_cloud.s3_ranges`; one started with ``fidelity=True`` (the Terraform
apply tests') also applies :mod:`~scripts.local_cloud.moto_fidelity`. Run as a module it
serves until killed and prints its port on the first line of stdout.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

from scripts.local_cloud.moto_version import MotoVersionError, require_written_for

REPO_ROOT = Path(__file__).resolve().parents[2]


class Emulator:
    """A moto server process; ``endpoint`` is its URL once started.

    ``fidelity`` makes it keep and return what Terraform reads back as AWS does
    (:mod:`~scripts.local_cloud.moto_fidelity`), for a second plan after an apply.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, fidelity: bool = False) -> None:
        self.host = host
        self.port = port
        self.fidelity = fidelity
        self._process: subprocess.Popen[str] | None = None
        self.endpoint = ""

    def start(self) -> str:
        require_written_for()
        env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        command = [sys.executable, "-m", "scripts.local_cloud.emulator"]
        command += ["--host", self.host, "--port", str(self.port)]
        if self.fidelity:
            command.append("--terraform-fidelity")
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
            env=env,
            preexec_fn=_die_with_parent,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.isdigit():
            self.stop()
            raise RuntimeError(
                f"the AWS emulator did not start on {self.host}:{self.port}"
                " (is the port in use? choose another, or 0 for any free port)"
            )
        self.port = int(line)
        self.endpoint = f"http://{self.host}:{self.port}"
        return self.endpoint

    def reset(self) -> None:
        """Forget every resource (between tests)."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process and self._process.stdout:
            self._process.stdout.close()
        self._process = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _die_with_parent() -> None:
    """Ask Linux to stop the emulator when the process that started it dies, however it dies.

    (Linux ties this to the starting thread: start the emulator from a thread that
    lives as long as it should, as every caller here does from the main thread.)
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: stop() still ends it on every normal exit


_PR_SET_PDEATHSIG = 1


def _one_dynamodb_request_at_a_time(app: Callable) -> Callable:
    """Make DynamoDB's conditional writes atomic, as they are in AWS.

    moto checks a condition and applies the write as two steps without a lock, so two
    threads racing at one claim could both win. DynamoDB requests (named by their
    ``X-Amz-Target`` header) are served one at a time; S3 and the rest stay parallel.

    Upstream: moto's DynamoDB backend (``moto/dynamodb/models/__init__.py``) holds a lock
    per table across the condition check and the write of ``put_item``, ``update_item``,
    ``delete_item`` and ``transact_write_items``.
    """
    lock = threading.Lock()

    def serialised(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            return list(app(environ, start_response))

    return serialised


def serve(host: str, port: int, fidelity: bool = False) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    from scripts.local_cloud import moto_fidelity, moto_speed, s3_ranges

    moto_speed.apply()
    s3_ranges.apply()
    if fidelity:
        moto_fidelity.apply()

    class KeepAliveHandler(WSGIRequestHandler):
        """HTTP/1.1, so that clients reuse connections as they do with AWS."""

        protocol_version = "HTTP/1.1"

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = _one_dynamodb_request_at_a_time(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True, request_handler=KeepAliveHandler)
    print(server.port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--terraform-fidelity",
        action="store_true",
        help="keep and return what Terraform reads back as AWS does (moto_fidelity.py)",
    )
    args = parser.parse_args()
    try:
        serve(args.host, args.port, args.terraform_fidelity)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        sys.exit(1)
    except MotoVersionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        pass
