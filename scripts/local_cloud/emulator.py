"""The AWS emulator: moto in server mode, in its own process, on a loopback port the OS picks.

Run as a module it serves until killed and prints its port on the first line of stdout.
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
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


class Emulator:
    """A moto server process; ``endpoint`` is its URL once started."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._process: subprocess.Popen[str] | None = None
        self.endpoint = ""

    def start(self) -> str:
        env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scripts.local_cloud.emulator",
                "--host",
                self.host,
                "--port",
                str(self.port),
            ],
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
    """
    lock = threading.Lock()

    def serialised(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            return list(app(environ, start_response))

    return serialised


def _managed_policies_in_the_aws_partition_only() -> None:
    """Give only the ``aws`` partition AWS's managed policies, from JSON parsed once.

    Terraform attaches AWS managed policies, so the emulator loads them; but moto
    builds all 1,582 of them for every partition (six: ``aws-cn``, ``aws-us-gov``, ...)
    from freshly parsed JSON, when an account's IAM is first touched and at every
    reset: half a second each time, for partitions this project never uses.
    """
    import json

    from moto.iam import models as iam
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.settings import load_iam_aws_managed_policies

    parsed = json.loads(aws_managed_policies_data)

    def init_aws_policies(self: iam.IAMBackend) -> list[iam.ManagedPolicy]:
        if self.partition != "aws" or not load_iam_aws_managed_policies():
            return []
        return [
            iam.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
            for name, data in parsed.items()
        ]

    iam.IAMBackend._init_aws_policies = init_aws_policies


def _dynamodb_sorted_by_plain_values() -> None:
    """Compare DynamoDB keys by their Python values, each converted once.

    Every query and scan sorts the whole table by key, and an index query then
    sorts the partition it reads by the index's keys, comparing ``DynamoType``
    wrappers that convert both values at each comparison, through five type
    tests for a string: 4 of the 5 s a page of a site's tasks took with 100,000
    tasks in the table. Key attributes are strings, numbers or binary, whose
    converted values (``str``, ``Decimal``, ``bytes``) order as the wrappers do,
    so sorting on values converted once gives the same order; the conversion
    itself tests the common types first.
    """
    from decimal import Decimal

    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    convert = DynamoType.cast_value.fget

    def cast_value(self: DynamoType) -> Any:
        kind = self.type
        if kind in ("S", "B", "BOOL"):
            return self.value
        if kind == "N":
            return Decimal(self.value)
        return convert(self)

    def all_items(self: Table) -> list:
        items = [
            item
            for entry in self.items.values()
            for item in (entry.values() if self.range_key_attr else (entry,))
        ]
        items.sort(
            key=lambda item: (
                (item.hash_key.cast_value, item.range_key.cast_value)
                if item.range_key
                else item.hash_key.cast_value
            )
        )
        return items

    def sorted_items(
        self: Table, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list
    ) -> list:
        attrs = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        items.sort(key=lambda item: tuple(item.attrs[a].cast_value for a in attrs))
        return items

    DynamoType.cast_value = property(cast_value)
    Table.all_items = all_items
    Table.sorted_items = sorted_items


def serve(host: str, port: int) -> None:
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    from scripts.local_cloud import moto_fidelity, s3_ranges

    # Values moto would drop or reshape are kept and read back as AWS does.
    moto_fidelity.apply()
    # A ranged GET reads its range, not the whole object.
    s3_ranges.apply()

    # The dispatcher lists moto's package folders on every request, under its one
    # lock; the list never changes while the server runs, so it is read once.
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    _managed_policies_in_the_aws_partition_only()
    _dynamodb_sorted_by_plain_values()

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
    args = parser.parse_args()
    try:
        serve(args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        pass
