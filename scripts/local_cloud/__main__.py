"""Runs the local cloud until Ctrl-C: the emulator, the local Batch, the handlers and the sweeper.

    python -m scripts.local_cloud [--aws-port PORT] [--work-dir DIR] [--ready-file FILE]

It prints the environment a client needs (and writes it as JSON to
``--ready-file``, by default ``WORK_DIR/ready.json``, once everything is up; the
admin command reads it), then serves until interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import sys
import threading
from pathlib import Path

from functions.core.observability import configure_logging, init_sentry
from scripts.local_cloud.cloud import REPO_ROOT, WORKER_JOB, LocalCloud
from scripts.local_cloud.emulator import Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--aws-port", type=int, default=0, help="emulator port (0: any free)")
    parser.add_argument("--region", default="eu-central-1")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "var" / "local-cloud")
    parser.add_argument(
        "--ready-file",
        type=Path,
        help="write the client environment here (default: WORK_DIR/ready.json)",
    )
    parser.add_argument(
        "--worker-command",
        default=shlex.join(WORKER_JOB),
        help="the command Batch jobs run (default: the reconstruction worker)",
    )
    parser.add_argument(
        "--worker-image",
        help="run Batch jobs as containers of this image (built by scripts/images) instead",
    )
    parser.add_argument("--batch-concurrency", type=int, default=2)
    parser.add_argument("--sweep-seconds", type=float, default=300)
    args = parser.parse_args(argv)
    configure_logging("INFO")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    init_sentry(os.environ.get("SENTRY_DSN"), component="local-cloud", environment="local")

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    args.work_dir.mkdir(parents=True, exist_ok=True)
    try:
        emulator = Emulator(port=args.aws_port)
        emulator.start()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        cloud = LocalCloud(
            endpoint=emulator.endpoint,
            work_dir=args.work_dir,
            region=args.region,
            worker_command=shlex.split(args.worker_command),
            worker_image=args.worker_image,
            batch_concurrency=args.batch_concurrency,
            sweep_seconds=args.sweep_seconds,
        )
        with cloud:
            env = {
                **cloud.client_env(),
                **cloud.settings.to_env(),
                "YC_LOCAL_CREDENTIALS": str(cloud.credentials.path),
            }
            ready_file = args.ready_file or args.work_dir / "ready.json"
            ready_file.write_text(json.dumps(env, indent=2))
            print("The local cloud is running. A client needs:", flush=True)
            for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BATCH", "AWS_REGION"):
                print(f"  export {key}={env[key]}", flush=True)
            print(f"  in bucket {cloud.settings.in_bucket}, out bucket {cloud.settings.out_bucket}")
            print(f"  (all of it in {ready_file}, which scripts/admin reads)", flush=True)
            print("Ctrl-C stops everything.", flush=True)
            stop.wait()
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
