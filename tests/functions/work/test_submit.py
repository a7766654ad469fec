"""Raw file + task file uploaded to the emulator over HTTP → exactly one Batch job.

The queues are not polled here: each test hands the deliveries to the ``submit``
handler itself, so duplicates and races happen exactly where the test puts them.
"""

from __future__ import annotations

import json
import threading

import pytest

from functions.core.models import Task
from functions.work.submit import Hooks
from scripts.local_cloud.lambda_runtime import LambdaContext, sqs_record
from tests.helpers.cloud import drain, jobs_of

ALICE_TASK = "6a1f0a43-7d0c-4b5e-9a43-0b8e0d1c2f11"


def take_messages(cloud) -> list[dict]:
    poller = cloud.pollers["submit"]
    messages = poller.sqs.receive_message(
        QueueUrl=poller.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages", [])
    for message in messages:
        poller.sqs.delete_message(QueueUrl=poller.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def invoke(cloud, messages: list[dict]) -> dict:
    poller = cloud.pollers["submit"]
    records = [sqs_record(m, poller.queue_arn, cloud.region) for m in messages]
    context = LambdaContext.for_invocation("submit", cloud.region, "123456789012", 60)
    return poller.handler({"Records": records}, context)


def test_raw_file_opens_and_task_file_submits_one_job(seeded_cloud):
    cloud, upload = seeded_cloud(poll=False)
    upload.raw("alice", ALICE_TASK)
    drain(cloud)
    assert Task.get(ALICE_TASK).status == "UPLOADING"

    upload.task_file("alice", ALICE_TASK, upload.text(ALICE_TASK, 4096))
    drain(cloud)

    task = Task.get(ALICE_TASK)
    assert task.status == "SUBMITTED"
    assert [j["jobId"] for j in jobs_of(cloud, ALICE_TASK)] == [task.job_id]
    assert task.raw_files.as_dict() == {f"{ALICE_TASK}.dat": 4096}
    assert (task.site_id, task.user_name, task.recon_mode) == ("site-a", "alice", "demo_fft")
    job = cloud.clients.batch.describe_jobs(jobs=[task.job_id])["jobs"][0]
    env = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert env["YC_INPUT"] == f"s3://{cloud.settings.in_bucket}/alice/{ALICE_TASK}/"
    assert env["YC_OUTPUT"] == f"s3://{cloud.settings.out_bucket}/alice/{ALICE_TASK}/"
    assert env["YC_MODE"] == "demo_fft"
    assert job["tags"]["yc:task_id"] == ALICE_TASK
    assert job["jobQueue"].endswith(cloud.settings.job_queue_spot)


def test_task_file_event_before_raw_file_event_still_submits(seeded_cloud):
    cloud, upload = seeded_cloud(poll=False)
    upload.task(("alice"), ALICE_TASK)
    raw, task_file = take_messages(cloud)
    invoke(cloud, [task_file])
    invoke(cloud, [raw])
    assert Task.get(ALICE_TASK).status == "SUBMITTED"
    assert len(jobs_of(cloud, ALICE_TASK)) == 1


def test_the_same_event_delivered_twice_submits_once(seeded_cloud):
    cloud, upload = seeded_cloud(poll=False)
    upload.task("alice", ALICE_TASK)
    messages = take_messages(cloud)
    invoke(cloud, messages)
    invoke(cloud, messages)
    invoke(
        cloud,
        [m for m in messages if json.loads(m["Body"])["detail"]["object"]["key"].endswith(".task")],
    )
    assert len(jobs_of(cloud, ALICE_TASK)) == 1
    assert Task.get(ALICE_TASK).status == "SUBMITTED"


def test_the_same_event_delivered_concurrently_submits_once(seeded_cloud):
    cloud, upload = seeded_cloud(poll=False)
    upload.raw("alice", ALICE_TASK)
    drain(cloud)
    upload.task_file("alice", ALICE_TASK, upload.text(ALICE_TASK, 4096))
    [message] = take_messages(cloud)
    start = threading.Barrier(2)
    results = []

    def deliver():
        start.wait(timeout=10)
        results.append(invoke(cloud, [message]))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # A delivery that met the other in progress fails and comes back later, as SQS would.
    for result in results:
        if result["batchItemFailures"]:
            invoke(cloud, [message])
    assert len(jobs_of(cloud, ALICE_TASK)) == 1
    assert Task.get(ALICE_TASK).status == "SUBMITTED"


def test_two_handlers_racing_at_the_claim_submit_once(seeded_cloud):
    at_claim = threading.Barrier(2)
    cloud, upload = seeded_cloud(
        poll=False, hooks=Hooks(before_claim=lambda _: at_claim.wait(timeout=20))
    )
    upload.raw("alice", ALICE_TASK)
    drain(cloud)
    # The client writes the task file twice: two distinct events, both valid.
    upload.task_file("alice", ALICE_TASK, upload.text(ALICE_TASK, 4096))
    upload.task_file("alice", ALICE_TASK, upload.text(ALICE_TASK, 4096) + "\n")
    first, second = take_messages(cloud)
    results = []
    threads = [
        threading.Thread(target=lambda m=m: results.append(invoke(cloud, [m])))
        for m in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r["batchItemFailures"] for r in results] == [[], []]
    assert len(jobs_of(cloud, ALICE_TASK)) == 1
    task = Task.get(ALICE_TASK)
    assert task.status == "SUBMITTED" and task.job_id == jobs_of(cloud, ALICE_TASK)[0]["jobId"]


def test_a_uuid_held_by_another_user_is_refused(seeded_cloud, caplog):
    cloud, upload = seeded_cloud(poll=False)
    upload.task("alice", ALICE_TASK)
    drain(cloud)
    upload.task("bob", ALICE_TASK)
    drain(cloud)
    task = Task.get(ALICE_TASK)
    assert task.user_name == "alice"
    assert len(jobs_of(cloud, ALICE_TASK)) == 1
    assert "alice" not in caplog.text


def test_a_failing_submit_job_releases_the_claim_and_the_retry_submits(seeded_cloud):
    failures = iter([RuntimeError("Batch is unreachable")])

    def flaky(_task_id):
        failure = next(failures, None)
        if failure:
            raise failure

    cloud, upload = seeded_cloud(poll=False, hooks=Hooks(before_submit_job=flaky))
    upload.task("alice", ALICE_TASK)
    raw, task_file = take_messages(cloud)
    invoke(cloud, [raw])
    assert invoke(cloud, [task_file])["batchItemFailures"]
    released = Task.get(ALICE_TASK)
    assert (released.status, released.site_status) == ("UPLOADING", "site-a#UPLOADING")
    assert invoke(cloud, [task_file])["batchItemFailures"] == []
    submitted = Task.get(ALICE_TASK)
    assert (submitted.status, submitted.site_status) == ("SUBMITTED", "site-a#SUBMITTED")
    assert len(jobs_of(cloud, ALICE_TASK)) == 1


def test_an_answer_lost_after_batch_took_the_job_submits_nothing_twice(seeded_cloud):
    cloud, upload = seeded_cloud(poll=False)
    lost = iter([ConnectionResetError("the answer to SubmitJob was lost")])

    def lose_answer(**_kwargs):
        failure = next(lost, None)
        if failure:
            raise failure

    # After the call: Batch has created the job, the handler never hears of it.
    cloud.clients.batch_submit.meta.events.register("after-call.batch.SubmitJob", lose_answer)
    upload.task("alice", ALICE_TASK)
    messages = take_messages(cloud)
    assert messages
    for message in messages:
        assert invoke(cloud, [message])["batchItemFailures"] == []
    jobs = jobs_of(cloud, ALICE_TASK)
    assert len(jobs) == 1
    task = Task.get(ALICE_TASK, consistent_read=True)
    assert (task.status, task.job_id) == ("SUBMITTED", jobs[0]["jobId"])


@pytest.fixture(autouse=True)
def _quiet_logs(caplog):
    caplog.set_level("INFO")
