"""A stand-in job for the backend's tests, quicker than a reconstruction.

It honours the worker's contract (``YC_INPUT``, ``YC_OUTPUT`` …): it reads the
task's inputs, checks each raw file named by the task file is there, and writes
``inputs.json`` (name, size, sha256 of every input) and ``manifest.json`` into
the output prefix. It reconstructs nothing. On missing inputs it writes
``failure.json`` with the reason and exits 2.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from urllib.parse import urlparse

import boto3

INSPECT_JOB = (sys.executable, "-m", "tests.helpers.inspect_job")
"""The command the local Batch runs for it."""


def _split(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    return parsed.netloc, parsed.path.lstrip("/")


def main() -> int:
    env = os.environ
    s3 = boto3.client("s3")
    in_bucket, in_prefix = _split(env["YC_INPUT"])
    out_bucket, out_prefix = _split(env["YC_OUTPUT"])
    task_id = env["YC_TASK_UUID"]
    inputs = []
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=in_bucket, Prefix=in_prefix)
    for page in pages:
        for obj in page.get("Contents", []):
            digest = hashlib.sha256()
            body = s3.get_object(Bucket=in_bucket, Key=obj["Key"])["Body"]
            for chunk in iter(lambda b=body: b.read(1 << 20), b""):
                digest.update(chunk)
            inputs.append(
                {
                    "name": obj["Key"][len(in_prefix) :],
                    "size": obj["Size"],
                    "sha256": digest.hexdigest(),
                }
            )
    names = {i["name"] for i in inputs}
    if f"{task_id}.task" not in names:
        reason = f"the task file {task_id}.task is not among the job's inputs"
        s3.put_object(
            Bucket=out_bucket,
            Key=f"{out_prefix}failure.json",
            Body=json.dumps({"reason": reason}).encode(),
        )
        print(reason, file=sys.stderr)
        return 2
    report = json.dumps(
        {"task_id": task_id, "mode": env.get("YC_MODE"), "inputs": inputs}, indent=2
    ).encode()
    s3.put_object(Bucket=out_bucket, Key=f"{out_prefix}inputs.json", Body=report)
    manifest = {
        "files": [
            {
                "name": "inputs.json",
                "size": len(report),
                "sha256": hashlib.sha256(report).hexdigest(),
            }
        ]
    }
    s3.put_object(
        Bucket=out_bucket,
        Key=f"{out_prefix}manifest.json",
        Body=json.dumps(manifest, indent=2).encode(),
    )
    print(f"inspected {len(inputs)} inputs of task {task_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
