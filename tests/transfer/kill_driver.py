"""Runs one upload or download in its own process, so a test can kill it; prints the result.

    python -m tests.transfer.kill_driver upload|download ENDPOINT BUCKET KEY PATH
        [--part-size BYTES] [--concurrency N] [--mbps MEGABITS]

On success the last line of stdout is the result as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import boto3

from transfer import download_object, upload_file
from transfer.throttle import mbps_to_bytes_per_second


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("upload", "download"))
    parser.add_argument("endpoint")
    parser.add_argument("bucket")
    parser.add_argument("key")
    parser.add_argument("path")
    parser.add_argument("--part-size", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--mbps", type=float, default=None)
    args = parser.parse_args(argv)
    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        region_name="eu-central-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    cap = mbps_to_bytes_per_second(args.mbps) if args.mbps else None
    options = {
        "part_size": args.part_size,
        "concurrency": args.concurrency,
        "bandwidth_bytes_per_second": cap,
    }
    if args.command == "upload":
        result = upload_file(s3, args.path, args.bucket, args.key, **options)
    else:
        result = download_object(s3, args.bucket, args.key, args.path, **options)
    print(json.dumps(dataclasses.asdict(result), default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
