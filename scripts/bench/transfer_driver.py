"""One upload or one download with one Python contender; prints JSON ``{"seconds", "bytes"}``.

The transfer benchmark runs this in a process of its own per measurement, so
that the peak memory it reads for the process belongs to that contender alone.

    python -m scripts.bench.transfer_driver CONTENDER upload|download BUCKET KEY FILE \\
        --endpoint-url URL

CONTENDER is ``transfer`` (our package, its defaults), ``boto3-default``
(boto3's TransferManager with the default TransferConfig) or ``boto3-tuned``
(16 MiB parts, 10 threads). Credentials and region come from the environment.

``http-ranges`` downloads only, with ``--url``: the ranges ``transfer`` asks S3
for (its default part size, as many at once as its default concurrency), from
a plain HTTP file server (``scripts.bench.range_server``); BUCKET and KEY are
not used.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import time
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

MIB = 1024 * 1024
CONTENDERS = ("transfer", "boto3-default", "boto3-tuned", "http-ranges")
TUNED = TransferConfig(
    multipart_threshold=16 * MIB, multipart_chunksize=16 * MIB, max_concurrency=10
)


def client(endpoint_url: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=os.environ.get("AWS_REGION", "eu-central-1"),
        # Enough pooled connections for the widest contender (10 threads).
        config=Config(max_pool_connections=16),
    )


def upload(contender: str, s3, bucket: str, key: str, path: Path) -> None:
    if contender == "transfer":
        from transfer.upload import upload_file

        upload_file(s3, path, bucket, key)
    elif contender == "boto3-default":
        s3.upload_file(str(path), bucket, key, Config=TransferConfig())
    else:
        s3.upload_file(str(path), bucket, key, Config=TUNED)


def transfer_download_defaults() -> tuple[int, int]:
    """(part size, concurrency) that ``transfer.download.download_object`` uses by default."""
    from transfer.download import download_object
    from transfer.integrity import DEFAULT_PART_SIZE

    concurrency = inspect.signature(download_object).parameters["concurrency"].default
    return DEFAULT_PART_SIZE, concurrency


def download(contender: str, s3, bucket: str, key: str, path: Path) -> None:
    if contender == "transfer":
        from transfer.download import download_object

        download_object(s3, bucket, key, path)
    elif contender == "boto3-default":
        s3.download_file(bucket, key, str(path), Config=TransferConfig())
    else:
        s3.download_file(bucket, key, str(path), Config=TUNED)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("contender", choices=CONTENDERS)
    parser.add_argument("direction", choices=("upload", "download"))
    parser.add_argument("bucket")
    parser.add_argument("key")
    parser.add_argument("file", type=Path)
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--url", help="http-ranges: the file on the plain HTTP server")
    args = parser.parse_args(argv)
    if args.contender == "http-ranges":
        if args.direction != "download" or not args.url:
            parser.error("http-ranges downloads only, from --url")
        from scripts.bench.range_server import fetch_ranges

        part_size, concurrency = transfer_download_defaults()
        started = time.perf_counter()
        fetch_ranges(args.url, args.file, part_size=part_size, concurrency=concurrency)
        seconds = time.perf_counter() - started
        print(json.dumps({"seconds": seconds, "bytes": args.file.stat().st_size}))
        return 0
    s3 = client(args.endpoint_url)
    s3.head_bucket(Bucket=args.bucket)  # connect and sign once before the clock starts
    action = upload if args.direction == "upload" else download
    started = time.perf_counter()
    action(args.contender, s3, args.bucket, args.key, args.file)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "bytes": args.file.stat().st_size}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
