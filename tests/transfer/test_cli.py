"""The helper-compatible command, end to end against the AWS emulator."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from pathlib import Path

from botocore.exceptions import ClientError

from transfer.cli import main, make_client
from transfer.download import INCOMPLETE
from transfer.integrity import MIB

REGION = "eu-central-1"


def argv(emulator, bucket, task, *rest):
    return [
        "alice",
        "AKID",
        "SECRET",
        REGION,
        bucket,
        task,
        *rest,
        "--endpoint-url",
        emulator.endpoint,
    ]


def test_upload_then_download_round_trip(emulator, s3, bucket, tmp_path, capsys):
    raw = random.Random(1).randbytes(9 * MIB)
    (tmp_path / "meas.dat").write_bytes(raw)
    (tmp_path / "t1.task").write_text("[Task]\nMode=demo_fft\n")
    code = main(
        argv(
            emulator, bucket, "t1", "upload", str(tmp_path / "meas.dat"), str(tmp_path / "t1.task")
        )
    )
    assert code == 0, capsys.readouterr().err
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == ["alice/t1/meas.dat", "alice/t1/t1.task"]
    head = s3.head_object(Bucket=bucket, Key="alice/t1/meas.dat")
    assert head["Metadata"]["sha256"] == hashlib.sha256(raw).hexdigest()

    code = main(argv(emulator, bucket, "t1", "download", str(tmp_path / "in")))
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "in" / "t1" / "meas.dat").read_bytes() == raw
    assert (tmp_path / "in" / "t1" / "t1.task").read_text().startswith("[Task]")
    assert not (tmp_path / "in" / "t1" / INCOMPLETE).exists()


def test_task_file_goes_last(emulator, s3, bucket, tmp_path):
    order = []

    class Recording:
        def __init__(self, inner):
            self.inner = inner

        def put_object(self, **kwargs):
            order.append(kwargs["Key"])
            return self.inner.put_object(**kwargs)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    for name in ("b.dat", "a.dat", "t.task"):
        (tmp_path / name).write_bytes(name.encode())
    files = [str(tmp_path / n) for n in ("b.dat", "a.dat", "t.task")]
    code = main(
        argv(emulator, bucket, "u1", "upload", *files),
        client=lambda args: Recording(make_client(args)),
    )
    assert code == 0
    assert order == ["alice/u1/b.dat", "alice/u1/a.dat", "alice/u1/t.task"]


def test_failed_download_leaves_marker_and_one_line_error(emulator, s3, bucket, tmp_path, capsys):
    s3.put_object(Bucket=bucket, Key="alice/t2/a.dat", Body=b"a")
    s3.put_object(Bucket=bucket, Key="alice/t2/b.dat", Body=b"b")

    class Denied:
        def __init__(self, inner):
            self.inner, self.gets = inner, 0

        def get_object(self, **kwargs):
            self.gets += 1
            if self.gets == 2:
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")
            return self.inner.get_object(**kwargs)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    code = main(
        argv(emulator, bucket, "t2", "download", str(tmp_path)),
        client=lambda args: Denied(make_client(args)),
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "refused access" in err and "Traceback" not in err
    assert (tmp_path / "t2" / INCOMPLETE).exists()


def test_missing_file_and_bad_usage(emulator, bucket, tmp_path, capsys):
    assert main(argv(emulator, bucket, "t3", "upload", str(tmp_path / "nope.task"))) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["too", "few"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_module_entry_point_uses_aws_endpoint_url(emulator, s3, bucket, tmp_path):
    (tmp_path / "x.task").write_text("task")
    env = {"AWS_ENDPOINT_URL": emulator.endpoint, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "transfer",
            "alice",
            "AKID",
            "SECRET",
            REGION,
            bucket,
            "t4",
            "upload",
            str(tmp_path / "x.task"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert s3.get_object(Bucket=bucket, Key="alice/t4/x.task")["Body"].read() == b"task"


def test_progress_goes_to_a_log_as_plain_lines(s3, bucket, tmp_path, capsys, emulator):
    raw = tmp_path / "scan.dat"
    raw.write_bytes(bytes(12 * 1024 * 1024))
    task = tmp_path / "t.task"
    task.write_text("[Task]\n")
    argv = [
        "alice",
        "testing",
        "testing",
        "eu-central-1",
        bucket,
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "upload",
        str(raw),
        str(task),
        "--endpoint-url",
        emulator.endpoint,
    ]
    assert main(argv) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("scan.dat")]
    assert lines and "100.0%" in lines[-1] and "MB/s" in lines[-1]
    assert all("\r" not in line for line in lines)
