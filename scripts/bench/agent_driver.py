"""One upload of a raw file by one contender; prints JSON with its seconds, memory and disk use.

The agent benchmark runs this in a process of its own per measurement, so the
peak memory and the disk writes it reports belong to that contender alone.

    python -m scripts.bench.agent_driver plain|agent BUCKET KEY FILE \\
        --endpoint-url URL --journal-dir DIR

``plain`` is ``transfer.upload.upload_file`` of the file as it is; ``agent``
is what the agent's pipeline does with a TWIX file: ``deidentify_twix`` for
the patches, then the same upload with the patches applied while reading.
Both get a journal folder and a progress callback, as the pipeline passes them.
Credentials and region come from the environment.

The JSON holds ``seconds`` (de-identification and upload), ``deid_seconds``,
``bytes``, ``patches``, ``vm_hwm_mb`` (VmHWM, the process's peak resident
memory), ``baseline_mb`` (its resident memory once its modules are imported,
before the clock starts), ``written_mb`` (the bytes this process sent to
storage, from its I/O counters in ``/proc/self/io``; null where the kernel does
not count them) and ``created_mb`` (the size of the files it left in the raw
file's folder, its journal's among them). Free space is not a measure: other
processes write to the same disk.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import boto3

from transfer.progress import Progress
from transfer.upload import upload_file

MB = 1e6
CONTENDERS = ("plain", "agent")


def file_sizes(folder: Path) -> dict[Path, int]:
    """Every file under ``folder`` and its size."""
    return {p: p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024 / MB
    raise RuntimeError(f"/proc/self/status has no {field} line")


def vm_hwm_mb() -> float:
    """This process's peak resident set size (VmHWM) in MB."""
    return _status_mb("VmHWM")


def vm_rss_mb() -> float:
    """This process's resident set size now (VmRSS) in MB."""
    return _status_mb("VmRSS")


def written_bytes() -> int | None:
    """Bytes this process caused to be written to storage, or None where not counted.

    ``write_bytes`` alone: a copy written and deleted before it reached the disk
    is counted too (the kernel books its cancellation apart).
    """
    try:
        counters = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    except OSError:
        return None
    return int(counters["write_bytes"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("contender", choices=CONTENDERS)
    parser.add_argument("bucket")
    parser.add_argument("key")
    parser.add_argument("file", type=Path)
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--journal-dir", type=Path, required=True)
    args = parser.parse_args(argv)

    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint_url,
        region_name=os.environ.get("AWS_REGION", "eu-central-1"),
    )
    s3.head_bucket(Bucket=args.bucket)  # connect and sign once before the clock starts
    args.journal_dir.mkdir(parents=True, exist_ok=True)
    if args.contender == "agent":
        # Imported here so that the plain contender's memory is that of transfer/ alone.
        from agent.deid.twix import deidentify_twix
    baseline = vm_rss_mb()
    latest: dict[str, Progress] = {}
    written_at_start = written_bytes()
    patches: tuple[tuple[int, bytes], ...] = ()
    files_before = file_sizes(args.file.parent)
    started = time.perf_counter()
    if args.contender == "agent":
        patches = deidentify_twix(args.file).patches
    deid_seconds = time.perf_counter() - started
    upload_file(
        s3,
        args.file,
        args.bucket,
        args.key,
        patches=patches,
        journal_dir=args.journal_dir,
        progress=lambda report: latest.update(report=report),
    )
    seconds = time.perf_counter() - started
    written_at_end = written_bytes()
    created = sum(
        size for path, size in file_sizes(args.file.parent).items() if path not in files_before
    )
    report = latest.get("report")
    if report is None or report.done != report.total:
        raise RuntimeError("the upload ended without reporting all of its bytes done")
    written = (
        None
        if written_at_start is None or written_at_end is None
        else (written_at_end - written_at_start) / MB
    )
    print(
        json.dumps(
            {
                "seconds": seconds,
                "deid_seconds": deid_seconds,
                "bytes": args.file.stat().st_size,
                "patches": len(patches),
                "vm_hwm_mb": vm_hwm_mb(),
                "baseline_mb": baseline,
                "written_mb": written,
                "created_mb": created / MB,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
