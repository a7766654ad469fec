"""The local cloud drives a job to its end by events alone, and records its usage once."""

from __future__ import annotations

import json
import sys

from functions.core.models import Task
from functions.work.submit import job_name
from tests.helpers.cloud import usage_of

TASK = "9e107d9d-372b-4f06-a1c3-3b4d5e6f7a8b"


def redeliver_final_event(cloud, task: Task) -> None:
    """Publish the job's final state change again, as a duplicate delivery would."""
    job = cloud.clients.batch.describe_jobs(jobs=[task.job_id])["jobs"][0]
    cloud.clients.events.put_events(
        Entries=[
            {
                "Source": "aws.batch",
                "DetailType": "Batch Job State Change",
                "Detail": json.dumps(job),
                "Resources": [job["jobArn"]],
            }
        ]
    )
    poller = cloud.pollers["job_state"]
    before = poller.invocations
    cloud.wait_until(lambda: poller.invocations > before, 30, "the duplicate to be handled")


def test_a_job_reaches_succeeded_by_events_alone(seeded_cloud):
    cloud, upload = seeded_cloud()
    upload.task("alice", TASK)
    task = cloud.wait_for_task(TASK, {"SUCCEEDED", "FAILED"})
    assert task.status == "SUCCEEDED", task.error
    for status in ("UPLOADING", "SUBMITTED", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"):
        assert status in task.status_times.as_dict()
    assert (task.open_status, task.site_status) == ("SUCCEEDED", "site-a#SUCCEEDED")
    assert task.stopped_at >= task.started_at > 0
    [usage] = usage_of(TASK)
    assert (usage.user_name, usage.site_id, usage.status) == ("alice", "site-a", "SUCCEEDED")
    assert (usage.vcpus, usage.memory_gib, usage.spot) == (2, 2, True)
    assert usage.cost_micros == task.cost_micros >= 0
    manifest = cloud.clients.s3.get_object(
        Bucket=cloud.settings.out_bucket, Key=f"alice/{TASK}/manifest.json"
    )
    assert json.load(manifest["Body"])["files"][0]["name"] == "inputs.json"

    redeliver_final_event(cloud, task)
    assert len(usage_of(TASK)) == 1
    assert Task.get(TASK).cost_micros == task.cost_micros


def test_a_job_that_exits_non_zero_ends_failed_with_its_reason(seeded_cloud):
    crash = [
        sys.executable,
        "-c",
        "import sys; print('segfault in recon', file=sys.stderr); sys.exit(3)",
    ]
    cloud, upload = seeded_cloud(worker_command=crash)
    upload.task("alice", TASK)
    task = cloud.wait_for_task(TASK, {"SUCCEEDED", "FAILED"})
    assert (task.status, task.site_status) == ("FAILED", "site-a#FAILED")
    assert "exit code 3" in task.error and "resubmit" in task.error
    assert task.exit_code == 3
    [usage] = usage_of(TASK)
    assert usage.status == "FAILED" and usage.attempts == 1

    redeliver_final_event(cloud, task)
    assert len(usage_of(TASK)) == 1


def test_the_workers_own_reason_is_what_the_user_sees(seeded_cloud):
    explain = [
        sys.executable,
        "-c",
        (
            "import boto3, json, os, sys\n"
            "bucket, _, prefix = os.environ['YC_OUTPUT'][5:].partition('/')\n"
            "reason = 'the raw file is truncated at byte 1024; export it again from the scanner'\n"
            "boto3.client('s3').put_object(Bucket=bucket, Key=prefix + 'failure.json',"
            " Body=json.dumps({'reason': reason}))\n"
            "sys.exit(2)\n"
        ),
    ]
    cloud, upload = seeded_cloud(worker_command=explain)
    upload.task("alice", TASK)
    task = cloud.wait_for_task(TASK, {"SUCCEEDED", "FAILED"})
    assert task.error == "the raw file is truncated at byte 1024; export it again from the scanner"


def test_events_for_unknown_jobs_are_ignored(seeded_cloud):
    cloud, _ = seeded_cloud()
    detail = {
        "jobId": "not-ours",
        "jobName": job_name(TASK),
        "status": "RUNNING",
        "jobQueue": f"arn:aws:batch:{cloud.region}:123456789012:job-queue/"
        f"{cloud.settings.job_queue_spot}",
    }
    cloud.clients.events.put_events(
        Entries=[
            {
                "Source": "aws.batch",
                "DetailType": "Batch Job State Change",
                "Detail": json.dumps(detail),
            }
        ]
    )
    poller = cloud.pollers["job_state"]
    cloud.wait_until(lambda: poller.invocations > 0, 30, "the event to be handled")
    assert list(Task.scan()) == []
