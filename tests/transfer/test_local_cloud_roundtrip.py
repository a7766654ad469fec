"""The helper-compatible command carries a task through the local cloud and back.

alice uploads a raw file and its task file with her own key, the local job
inspects the inputs, and the command downloads the task's results from the
output bucket, leaving no ``INCOMPLETE`` marker behind.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid

from tests.helpers.cloud import task_file_text
from transfer.cli import main
from transfer.download import INCOMPLETE
from transfer.integrity import MIB

RAW_SIZE = 6 * MIB


def command(cloud, client, bucket: str, task_id: str, *rest: str) -> list[str]:
    """Arguments as an existing Yarra cloud agent passes them to its helper."""
    return [
        "alice",
        client.access_key_id,
        client.secret_access_key,
        cloud.region,
        bucket,
        task_id,
        *rest,
        "--endpoint-url",
        cloud.endpoint,
    ]


def test_raw_and_task_file_round_trip_through_the_local_cloud(api_cloud, tmp_path, capsys):
    cloud, clients, _, _ = api_cloud()
    alice = clients["alice"]
    task_id = str(uuid.uuid4())
    raw = random.Random(4).randbytes(RAW_SIZE)
    outgoing = tmp_path / "outgoing"
    outgoing.mkdir()
    raw_path = outgoing / f"{task_id}.dat"
    raw_path.write_bytes(raw)
    task_path = outgoing / f"{task_id}.task"
    task_path.write_text(task_file_text(task_id, RAW_SIZE))

    code = main(
        command(
            cloud,
            alice,
            cloud.settings.in_bucket,
            task_id,
            "upload",
            str(raw_path),
            str(task_path),
        )
    )
    assert code == 0, capsys.readouterr().err
    task = cloud.wait_for_task(task_id, {"SUCCEEDED", "FAILED"}, timeout=120)
    assert task.status == "SUCCEEDED"

    incoming = tmp_path / "incoming"
    code = main(
        command(cloud, alice, cloud.settings.out_bucket, task_id, "download", str(incoming))
    )
    assert code == 0, capsys.readouterr().err
    results = incoming / task_id
    assert (results / "manifest.json").is_file()
    assert (results / "inputs.json").is_file()
    assert not (results / INCOMPLETE).exists()

    report = json.loads((results / "inputs.json").read_text())
    inputs = {item["name"]: item for item in report["inputs"]}
    assert report["task_id"] == task_id
    assert inputs[raw_path.name]["size"] == RAW_SIZE
    assert inputs[raw_path.name]["sha256"] == hashlib.sha256(raw_path.read_bytes()).hexdigest()
    assert inputs[task_path.name]["sha256"] == hashlib.sha256(task_path.read_bytes()).hexdigest()
    manifest = json.loads((results / "manifest.json").read_text())
    listed = {item["name"]: item["sha256"] for item in manifest["files"]}
    assert (
        listed["inputs.json"] == hashlib.sha256((results / "inputs.json").read_bytes()).hexdigest()
    )
