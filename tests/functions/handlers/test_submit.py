"""The submit handler on bad uploads: each ends FAILED with a reason; poison lands in the DLQ."""

from __future__ import annotations

import pytest

from functions.core.models import Task
from functions.work.submit import Hooks
from tests.helpers.cloud import drain

TASK = "3c9d2b7e-5f4a-4e1b-8d6c-7a9b0c1d2e3f"


def without(text: str, key: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith(key + "="))


@pytest.mark.parametrize(
    "user,raw_size,make_task_file,reason",
    [
        ("alice", 4096, lambda text: without(text, "ReconMode"), "missing [Task] ReconMode"),
        (
            "alice",
            4096,
            lambda text: without(text, "ScanFileSize"),
            "missing [Information] ScanFileSize",
        ),
        (
            "alice",
            4096,
            lambda text: text.replace("demo_fft", "no_such_mode"),
            "'no_such_mode' is not offered",
        ),
        (
            "alice",
            4096,
            lambda text: text.replace("demo_fft", "retired_mode"),
            "'retired_mode' is not offered",
        ),
        ("carol", 4096, lambda text: text, "'demo_fft' is not enabled for your site"),
        (None, 0, lambda text: text, ".dat named in the task file was not uploaded"),
        (
            "alice",
            1000,
            lambda text: text,
            "is 1000 bytes in the cloud but the task file says 4096",
        ),
        ("alice", 4096, lambda text: "this is\nnot an INI file\n", "not a valid INI task file"),
        ("alice", 4096, lambda text: bytes(range(256)) * 64, "holds binary data"),
        ("alice", 4096, lambda text: b"[Task]\n" + b"x" * (50 * 1024 * 1024), "is 52.4 MB"),
    ],
    ids=[
        "missing-key",
        "missing-size",
        "unknown-mode",
        "disabled-mode",
        "mode-not-enabled",
        "raw-missing",
        "raw-wrong-size",
        "not-ini",
        "binary",
        "50MB",
    ],
)
def test_a_bad_task_fails_with_a_reason(seeded_cloud, user, raw_size, make_task_file, reason):
    cloud, upload = seeded_cloud(poll=False)
    owner = user or "alice"
    if user:
        upload.raw(owner, TASK, size=raw_size)
    upload.task_file(owner, TASK, make_task_file(upload.text(TASK, 4096)))
    drain(cloud)
    task = Task.get(TASK)
    assert task.status == "FAILED"
    assert reason in task.error
    assert task.job_id is None
    assert (
        cloud.clients.batch.list_jobs(jobQueue=cloud.settings.job_queue_spot)["jobSummaryList"]
        == []
    )
    # A rejected task is not retried: nothing is left in the queue or its DLQ.
    assert cloud.pollers["submit"].poll_once() == 0
    assert _dlq_messages(cloud) == []


def test_a_message_that_keeps_failing_lands_in_the_dlq(seeded_cloud):
    def broken(_task_id):
        raise RuntimeError("injected fault at submit")

    cloud, upload = seeded_cloud(poll=False, hooks=Hooks(before_submit_job=broken))
    upload.task("alice", TASK)
    deliveries = 0
    while not _dlq_messages(cloud, keep=True) and deliveries < 20:
        cloud.pollers["submit"].poll_once()
        deliveries += 1
    dead = _dlq_messages(cloud)
    assert len(dead) == 1 and dead[0]["Body"].find(f"{TASK}.task") > 0
    max_receives = cloud.resources.raw["queues"]["submit"]["max_receive_count"]
    assert deliveries <= max_receives + 2
    # The task lost nothing: it waits in UPLOADING, its claim released, for a redrive.
    assert Task.get(TASK).status == "UPLOADING"


def test_a_message_that_is_not_an_event_lands_in_the_dlq(seeded_cloud):
    cloud, _ = seeded_cloud(poll=False)
    poller = cloud.pollers["submit"]
    poller.sqs.send_message(QueueUrl=poller.queue_url, MessageBody="not json")
    for _ in range(10):
        if _dlq_messages(cloud, keep=True):
            break
        poller.poll_once()
    assert [m["Body"] for m in _dlq_messages(cloud)] == ["not json"]


def _dlq_messages(cloud, keep: bool = False) -> list[dict]:
    sqs = cloud.pollers["submit"].sqs
    url = cloud.provisioned.dlq_urls["submit"]
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=0 if keep else 30
    ).get("Messages", [])
    return messages
