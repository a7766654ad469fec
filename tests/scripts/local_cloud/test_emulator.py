import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.local_cloud.emulator import Emulator

REPO = Path(__file__).resolve().parents[3]


def test_a_busy_port_gets_a_clear_message():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"127.0.0.1:{port}.*in use"):
            Emulator(port=port).start()
        result = subprocess.run(
            [sys.executable, "-m", "scripts.local_cloud", "--aws-port", str(port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stderr and "in use" in result.stderr


def test_reset_forgets_everything(emulator):
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=emulator.endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    s3.create_bucket(Bucket="scratch")
    emulator.reset()
    assert s3.list_buckets()["Buckets"] == []
