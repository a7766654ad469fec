"""The command with the Yarra helper's contract.

    python -m transfer <user> <key> <secret> <region> <bucket> <uuid> upload <file>... <taskfile>
    python -m transfer <user> <key> <secret> <region> <bucket> <uuid> download <dir>

Uploads go to ``{user}/{uuid}/{basename}``, the task file last; a download
fetches ``{user}/{uuid}/`` into ``<dir>/<uuid>/`` with an ``INCOMPLETE``
marker until it is whole. Exit 0 on success; 1 with one line on stderr on failure.
``--bandwidth-mbps`` (or ``YC_BANDWIDTH_MBPS``) caps the rate in megabits per second.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import boto3

from transfer.download import download_prefix
from transfer.errors import TransferError
from transfer.progress import Progress
from transfer.throttle import mbps_to_bytes_per_second
from transfer.upload import upload_file

ClientFactory = Callable[[argparse.Namespace], Any]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m transfer", description=__doc__)
    for name in ("user", "key", "secret", "region", "bucket", "uuid"):
        parser.add_argument(name)
    parser.add_argument("command", choices=("upload", "download"))
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--endpoint-url", help="S3-compatible endpoint (else AWS_ENDPOINT_URL)")
    parser.add_argument("--concurrency", type=int, help="parts in flight (default 5 up, 10 down)")
    parser.add_argument(
        "--bandwidth-mbps",
        type=_mbps,
        default=None,
        help="cap the transfer at this many megabits per second (else YC_BANDWIDTH_MBPS)",
    )
    return parser


def _mbps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of megabits/s: {text!r}")
    return value


def bandwidth(args: argparse.Namespace) -> float | None:
    """The cap in bytes per second from ``--bandwidth-mbps`` or ``YC_BANDWIDTH_MBPS``, or None."""
    mbps = getattr(args, "bandwidth_mbps", None)
    if mbps is None:
        text = os.environ.get("YC_BANDWIDTH_MBPS", "").strip()
        if not text:
            return None
        try:
            mbps = _mbps(text)
        except argparse.ArgumentTypeError as exc:
            raise _UsageError(f"YC_BANDWIDTH_MBPS: {exc}") from None
    return mbps_to_bytes_per_second(mbps)


def make_client(args: argparse.Namespace) -> Any:
    """An S3 client for the given keys; proxy and CA bundle settings come from the environment."""
    options = {"endpoint_url": args.endpoint_url} if args.endpoint_url else {}
    return boto3.client(
        "s3",
        region_name=args.region,
        aws_access_key_id=args.key,
        aws_secret_access_key=args.secret,
        **options,
    )


def _reporter(name: str) -> Callable[[Progress], None]:
    """A progress bar on a terminal; elsewhere (a log), a plain line every tenth of the way."""
    terminal = sys.stdout.isatty()
    logged = [-1]

    def report(progress: Progress) -> None:
        share = progress.done / progress.total if progress.total else 1.0
        eta = f"{progress.eta:.0f}s" if progress.eta is not None else "?"
        line = f"{name}: {share:6.1%} {progress.rate / 1e6:7.1f} MB/s ETA {eta}"
        if terminal:
            sys.stdout.write(f"\r{line}   ")
        elif int(share * 10) > logged[0]:
            logged[0] = int(share * 10)
            sys.stdout.write(line + "\n")
        sys.stdout.flush()

    return report


def run(args: argparse.Namespace, s3: Any) -> None:
    prefix = f"{args.user}/{args.uuid}/"
    cap = bandwidth(args)
    # each direction has its own default (5 parts up, 10 ranges down) unless one is given
    parts_in_flight = {"concurrency": args.concurrency} if args.concurrency else {}
    if args.command == "upload":
        files = [Path(p) for p in args.paths]
        if len(files) < 1:
            raise TransferError("upload needs at least the task file")
        for path in files:
            if not path.is_file():
                raise TransferError(f"{path}: no such file")
        names = [p.name for p in files]
        if len(set(names)) != len(names):
            raise TransferError("two files share a name; their objects would overwrite each other")
        for path in files:  # the task file is last: its arrival starts the job
            upload_file(
                s3,
                path,
                args.bucket,
                prefix + path.name,
                **parts_in_flight,
                progress=_reporter(path.name),
                bandwidth_bytes_per_second=cap,
            )
            if sys.stdout.isatty():
                print()
    else:
        if len(args.paths) != 1:
            raise TransferError("download takes exactly one folder")
        dest = Path(args.paths[0]) / args.uuid
        download_prefix(
            s3,
            args.bucket,
            prefix,
            dest,
            **parts_in_flight,
            progress=_reporter(args.uuid),
            bandwidth_bytes_per_second=cap,
        )
        if sys.stdout.isatty():
            print()


def main(argv: Sequence[str] | None = None, *, client: ClientFactory = make_client) -> int:
    """Run the command; return the exit code. ``client`` builds the S3 client from the arguments."""
    try:
        args = _parser().parse_args(argv)
        run(args, client(args))
    except _UsageError as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return 2
    except (TransferError, ValueError, OSError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except Exception as exc:  # the contract is one line on stderr, never a traceback
        print(f"error: {type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    return 0
