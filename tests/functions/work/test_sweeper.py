"""The sweeper against the emulator: expired uploads, lost and late jobs, interrupted submissions.

The queues are not polled: each test delivers the submit messages itself and
leaves the job-state events undelivered where it needs Batch to be ahead of the
task. The sweeper runs with a clock set to a chosen instant, so nothing sleeps.
"""

from __future__ import annotations

import sys
import time
import uuid

import pytest

from contracts.task_status import Status
from functions.core.models import Task
from functions.core.task_store import status_actions
from functions.work.sweeper import Sweeper, SweepReport
from tests.helpers.cloud import drain, jobs_of, usage_of

OLD_UPLOAD = "0b6e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4"
NEW_UPLOAD = "1c7f2d3e-4a5b-4c6d-9e7f-8091a2b3c4d5"
TASK = "2d8a3e4f-5b6c-4d7e-8f90-91a2b3c4d5e6"
OTHER = "3e9b4f5a-6c7d-4e8f-9a01-a2b3c4d5e6f7"
RUNNING_TASK = "4fac5a6b-7d8e-4f90-8b12-b3c4d5e6f708"
UPLOADING_TASK = "5abd6b7c-8e9f-4a01-9c23-c4d5e6f70819"

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def discard(cloud, queue: str = "submit") -> None:
    """Drop every pending message of ``queue``, as a delivery that died mid-way."""
    poller = cloud.pollers[queue]
    while messages := poller.sqs.receive_message(
        QueueUrl=poller.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages", []):
        for message in messages:
            poller.sqs.delete_message(
                QueueUrl=poller.queue_url, ReceiptHandle=message["ReceiptHandle"]
            )


def set_state(task_id: str, *, touched_at: float, status: str | None = None, **fields) -> None:
    """Rewrite a task's state directly, as if time or a crash had left it there."""
    task = Task.get(task_id, consistent_read=True)
    actions = [Task.touched_at.set(touched_at)]
    if status is not None:
        actions += status_actions(task.site_id, Status(status))
    actions += [getattr(Task, name).set(value) for name, value in fields.items()]
    task.update(actions=actions)


def sweeper_at(cloud, instant: float) -> Sweeper:
    return Sweeper(cloud.settings, cloud.clients, clock=lambda: instant)


def objects_under(cloud, prefix: str) -> list[str]:
    answer = cloud.clients.s3.list_objects_v2(Bucket=cloud.settings.in_bucket, Prefix=prefix)
    return [o["Key"] for o in answer.get("Contents", [])]


def multipart_uploads_under(cloud, prefix: str) -> list[str]:
    answer = cloud.clients.s3.list_multipart_uploads(Bucket=cloud.settings.in_bucket, Prefix=prefix)
    return [u["Key"] for u in answer.get("Uploads", [])]


def start_multipart_upload(cloud, key: str) -> None:
    """A multipart upload with one part sent and never completed, as an agent that stopped."""
    s3, bucket = cloud.clients.s3, cloud.settings.in_bucket
    started = s3.create_multipart_upload(Bucket=bucket, Key=key)
    s3.upload_part(
        Bucket=bucket, Key=key, UploadId=started["UploadId"], PartNumber=1, Body=b"\0" * 1024
    )


def nothing_done(report: SweepReport) -> bool:
    return not (report.expired or report.reconciled or report.lost or report.resubmitted)


# -- abandoned uploads -------------------------------------------------------------------


def test_an_abandoned_upload_expires_and_its_files_are_deleted(seeded_cloud):
    cloud, upload = seeded_cloud(poll=False)
    upload.raw("alice", OLD_UPLOAD)
    start_multipart_upload(cloud, f"alice/{OLD_UPLOAD}/{OLD_UPLOAD}_adjust.dat")
    upload.raw("bob", NEW_UPLOAD)
    start_multipart_upload(cloud, f"bob/{NEW_UPLOAD}/{NEW_UPLOAD}_adjust.dat")
    drain(cloud)
    assert multipart_uploads_under(cloud, f"alice/{OLD_UPLOAD}/")
    now = time.time()
    set_state(OLD_UPLOAD, touched_at=now - cloud.settings.upload_expiry_seconds - 60)

    report = sweeper_at(cloud, now).sweep()

    assert report.expired == [OLD_UPLOAD]
    task = Task.get(OLD_UPLOAD, consistent_read=True)
    assert task.status == "EXPIRED" and task.open_status is None
    assert task.site_status == "site-a#EXPIRED"
    assert "not completed within 24 h" in task.error
    assert "send the scan again" in task.error
    assert objects_under(cloud, f"alice/{OLD_UPLOAD}/") == []
    assert multipart_uploads_under(cloud, f"alice/{OLD_UPLOAD}/") == []
    # The upload that is still in progress is left alone.
    assert Task.get(NEW_UPLOAD, consistent_read=True).status == "UPLOADING"
    assert objects_under(cloud, f"bob/{NEW_UPLOAD}/") == [f"bob/{NEW_UPLOAD}/{NEW_UPLOAD}.dat"]
    assert multipart_uploads_under(cloud, f"bob/{NEW_UPLOAD}/") == [
        f"bob/{NEW_UPLOAD}/{NEW_UPLOAD}_adjust.dat"
    ]

    again = sweeper_at(cloud, now + 60).sweep()
    assert nothing_done(again)
    assert Task.get(OLD_UPLOAD, consistent_read=True).touched_at == task.touched_at
    assert Task.get(NEW_UPLOAD, consistent_read=True).status == "UPLOADING"


# -- tasks and their Batch jobs ----------------------------------------------------------


def test_a_task_whose_job_batch_lost_ends_failed(seeded_cloud):
    cloud, upload = seeded_cloud(poll=False)
    upload.raw("alice", TASK)
    upload.raw("bob", OTHER)
    drain(cloud)
    now = time.time()
    never_issued = str(uuid.uuid4())
    set_state(
        TASK,
        status="RUNNING",
        job_id=never_issued,
        touched_at=now - cloud.settings.reconcile_after_seconds - 60,
    )
    # Its job is just as unknown, but it changed recently: not yet the sweeper's business.
    set_state(OTHER, status="RUNNING", job_id=str(uuid.uuid4()), touched_at=now - 60)

    report = sweeper_at(cloud, now).sweep()

    assert report.lost == [TASK]
    task = Task.get(TASK, consistent_read=True)
    assert task.status == "FAILED" and task.open_status is None
    assert task.site_status == "site-a#FAILED"
    assert "lost this task's job" in task.error
    assert task.job_id == never_issued
    assert Task.get(OTHER, consistent_read=True).status == "RUNNING"
    assert usage_of(TASK) == []

    assert nothing_done(sweeper_at(cloud, now + 60).sweep())


def test_a_finished_job_whose_events_never_arrived_is_reconciled_once(seeded_cloud):
    cloud, upload = seeded_cloud(poll=False)
    upload.task("alice", TASK)
    drain(cloud)
    task = Task.get(TASK, consistent_read=True)
    assert task.status == "SUBMITTED" and task.job_id
    job = cloud.batch.wait_for(task.job_id, {"SUCCEEDED", "FAILED"}, timeout=60)
    assert job["status"] == "SUCCEEDED"
    assert Task.get(TASK, consistent_read=True).status == "SUBMITTED"

    # Too early: the events may still be on their way.
    assert nothing_done(sweeper_at(cloud, time.time()).sweep())
    assert Task.get(TASK, consistent_read=True).status == "SUBMITTED"

    later = time.time() + cloud.settings.reconcile_after_seconds + 60
    report = sweeper_at(cloud, later).sweep()

    assert report.reconciled == [TASK]
    task = Task.get(TASK, consistent_read=True)
    assert task.status == "SUCCEEDED" and task.job_id == job["jobId"]
    assert task.stopped_at >= task.started_at > 0
    [usage] = usage_of(TASK)
    assert (usage.job_id, usage.status) == (job["jobId"], "SUCCEEDED")
    assert usage.cost_micros == task.cost_micros

    assert nothing_done(sweeper_at(cloud, later + 60).sweep())
    # The late events change nothing and bill nothing twice.
    drain(cloud, "job_state")
    assert Task.get(TASK, consistent_read=True).status == "SUCCEEDED"
    assert len(usage_of(TASK)) == 1


def test_a_running_job_moves_its_task_forward(seeded_cloud):
    cloud, upload = seeded_cloud(poll=False, worker_command=SLEEPER)
    upload.task("alice", TASK)
    drain(cloud)
    task = Task.get(TASK, consistent_read=True)
    cloud.batch.wait_for(task.job_id, {"RUNNING"}, timeout=30)

    later = time.time() + cloud.settings.reconcile_after_seconds + 60
    report = sweeper_at(cloud, later).sweep()

    assert report.reconciled == [TASK] and report.lost == []
    task = Task.get(TASK, consistent_read=True)
    assert task.status == "RUNNING" and task.open_status == "RUNNING"
    assert usage_of(TASK) == []


def test_an_interrupted_submission_is_submitted_again(seeded_cloud):
    cloud, upload = seeded_cloud(poll=False)
    upload.raw("alice", TASK)
    drain(cloud)
    upload.task_file("alice", TASK, upload.text(TASK, 4096))
    discard(cloud)
    # The handler claimed the task, then died before SubmitJob answered.
    now = time.time()
    set_state(
        TASK,
        status="SUBMITTED",
        claim_id=uuid.uuid4().hex,
        job_queue=cloud.settings.job_queue_spot,
        task_file_key=f"alice/{TASK}/{TASK}.task",
        touched_at=now - cloud.settings.reconcile_after_seconds - 60,
    )
    assert jobs_of(cloud, TASK) == []

    report = sweeper_at(cloud, now).sweep()

    assert report.resubmitted == [TASK]
    [job] = jobs_of(cloud, TASK)
    task = Task.get(TASK, consistent_read=True)
    assert task.status == "SUBMITTED" and task.job_id == job["jobId"]
    assert task.recon_mode == "demo_fft"

    assert nothing_done(sweeper_at(cloud, now + 60).sweep())
    assert len(jobs_of(cloud, TASK)) == 1


def test_a_submission_interrupted_after_submit_job_keeps_its_one_job(seeded_cloud):
    cloud, upload = seeded_cloud(poll=False)
    upload.task("alice", TASK)
    drain(cloud)
    submitted = Task.get(TASK, consistent_read=True)
    [job] = jobs_of(cloud, TASK)
    # SubmitJob answered, but the job id never reached the task.
    submitted.update(actions=[Task.job_id.remove()])
    now = time.time()
    set_state(TASK, touched_at=now - cloud.settings.reconcile_after_seconds - 60)

    report = sweeper_at(cloud, now).sweep()

    assert report.reconciled == [TASK] and report.resubmitted == []
    assert [j["jobId"] for j in jobs_of(cloud, TASK)] == [job["jobId"]]
    assert Task.get(TASK, consistent_read=True).job_id == job["jobId"]


# -- measuring -----------------------------------------------------------------------------


def test_oldest_waiting_seconds_is_the_age_of_the_oldest_queued_task(seeded_cloud):
    cloud, upload = seeded_cloud(poll=False)
    now = time.time()
    sweeper = sweeper_at(cloud, now)
    assert sweeper.oldest_waiting_seconds(now) == 0

    for task_id in (TASK, OTHER, RUNNING_TASK, UPLOADING_TASK):
        upload.raw("alice", task_id)
    drain(cloud)
    set_state(TASK, status="SUBMITTED", touched_at=now - 100)
    set_state(OTHER, status="RUNNABLE", touched_at=now - 500)
    set_state(RUNNING_TASK, status="RUNNING", touched_at=now - 9000)
    set_state(UPLOADING_TASK, touched_at=now - 99999)

    assert sweeper.oldest_waiting_seconds(now) == pytest.approx(500)
    assert sweeper.oldest_waiting_seconds(now, statuses=(Status.RUNNABLE,)) == pytest.approx(500)
    set_state(OTHER, status="STARTING", touched_at=now - 20)
    assert sweeper.oldest_waiting_seconds(now) == pytest.approx(100)
    assert sweeper.oldest_waiting_seconds(now, statuses=(Status.RUNNABLE,)) == 0


# -- the handler ---------------------------------------------------------------------------


def test_the_sweeper_handler_returns_its_report(seeded_cloud):
    cloud, upload = seeded_cloud(poll=False)
    upload.raw("alice", OLD_UPLOAD)
    drain(cloud)
    set_state(OLD_UPLOAD, touched_at=time.time() - cloud.settings.upload_expiry_seconds - 60)

    assert cloud.sweep() == {
        "expired": [OLD_UPLOAD],
        "reconciled": [],
        "lost": [],
        "resubmitted": [],
        "oldest_waiting_seconds": 0.0,
        "oldest_runnable_seconds": 0.0,
    }
    assert Task.get(OLD_UPLOAD, consistent_read=True).status == "EXPIRED"
    assert cloud.sweep()["expired"] == []
