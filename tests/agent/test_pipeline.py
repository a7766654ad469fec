"""The task's steps against the local cloud: what the agent makes of the cloud's refusals."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from agent.cli import main
from agent.config import AgentConfig
from agent.journal import TaskJournal
from agent.ort import OrtFolders
from agent.pipeline import cloud_uuid_of
from agent.service import Agent
from agent.status import task_rows
from functions.core.models import Task
from functions.core.task_store import open_task
from scripts.local_cloud.cloud import WORKER_JOB
from tests.agent.site import (
    AGENT_SECONDS,
    MODE,
    SITE,
    SLICES,
    USER,
    enable_site,
    export_task,
    forbidden_values,
    leaks_in_bucket,
    run_agent_until,
    studies_of,
)


def agent_site(api_cloud: Any, tmp_path: Path, **options: Any) -> tuple[Any, Any, AgentConfig]:
    cloud, _clients, _uploader, admin = api_cloud(**options)
    admin.enable_mode(SITE, MODE, vcpus=2, memory_mib=2048, spot=True, timeout_seconds=600)
    path = tmp_path / "agent" / "agent.toml"
    admin.add_user(USER, SITE, agent_config=path, agent_base=tmp_path / "ort")
    return cloud, admin, AgentConfig.load(path)


def test_a_refused_job_submit_of_a_task_the_cloud_already_ran_does_not_fail_it(
    api_cloud: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cloud, admin, config = agent_site(api_cloud, tmp_path)
    task, _, _ = export_task(config.base, seed=19)
    journal_file = OrtFolders(config.base).journal_file(task)

    def before_step(uuid: str, step: str) -> None:
        if step == "submit":
            # The task file's upload has submitted the task; then the site disables the
            # mode, so v1/job_submit answers 400 for a task that ran all the same.
            cloud.wait_for_task(uuid, {"SUCCEEDED"})
            admin.disable_mode(SITE, MODE)

    agent = Agent(config, before_step=before_step)
    with caplog.at_level(logging.WARNING):
        run_agent_until(
            agent,
            lambda: TaskJournal(journal_file).is_done("poll") or task in agent.failed,
            AGENT_SECONDS,
        )
    journal = TaskJournal(journal_file)

    # It goes on to the download (where the test job's output, no images, stops it).
    assert journal.is_done("submit") and journal.is_done("poll")
    assert journal.facts("submit")["job_id"] == Task.get(task).job_id
    assert journal.facts("poll")["status"] == "SUCCEEDED"
    assert any(
        "refused a request (400)" in r.getMessage() and "SUCCEEDED" in r.getMessage()
        for r in caplog.records
    )


def test_a_refused_job_submit_of_a_task_the_cloud_does_not_hold_fails_it(
    api_cloud: Any, tmp_path: Path
) -> None:
    # No queue is polled: the cloud never learns of the upload, and job_submit is
    # refused because the mode is disabled; v1/job_status knows no such task.
    _, admin, config = agent_site(api_cloud, tmp_path, poll=False)
    task, _, _ = export_task(config.base, seed=20)
    admin.disable_mode(SITE, MODE)

    agent = Agent(config)
    run_agent_until(agent, lambda: task in agent.failed | agent.finished, AGENT_SECONDS)

    assert task in agent.failed
    [row] = [row for row in task_rows(config.base) if row.uuid == task]
    assert "refused job_submit (400)" in row.error and MODE in row.error


def test_a_task_whose_record_the_cloud_lost_is_uploaded_again_on_retry(
    api_cloud: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud, _admin, config = agent_site(api_cloud, tmp_path)
    task, _, _ = export_task(config.base, seed=22)
    journal_file = OrtFolders(config.base).journal_file(task)

    def before_step(uuid: str, step: str) -> None:
        # Under the running agent, the cloud loses the task's record.
        if step == "poll" and not TaskJournal(journal_file).is_done("restart"):
            cloud.wait_for_task(uuid, {"SUCCEEDED"})
            Task.get(uuid).delete()

    agent = Agent(config, before_step=before_step)
    run_agent_until(agent, lambda: task in agent.failed | agent.finished, AGENT_SECONDS)
    assert task in agent.failed
    [row] = [row for row in task_rows(config.base) if row.uuid == task]
    assert "no longer knows task" in row.error and "retry" in row.error

    assert main(["--config", str(config.path), "retry", task]) == 0
    assert "uploaded again under the same UUID" in capsys.readouterr().out
    journal = TaskJournal(journal_file)
    assert journal.is_done("deidentify") and not journal.is_done("upload")
    assert journal.facts("restart") == {
        "count": 1,
        "cloud_uuid": task,
        "reason": "the cloud no longer knew it",
    }

    again = Agent(config, before_step=before_step)
    run_agent_until(
        again,
        lambda: TaskJournal(journal_file).is_done("poll") or task in again.failed,
        AGENT_SECONDS,
    )
    journal = TaskJournal(journal_file)
    assert journal.facts("poll")["status"] == "SUCCEEDED"
    assert Task.get(task).user_name == USER
    assert journal.facts("submit")["job_id"] == Task.get(task).job_id


@pytest.mark.slow
def test_a_task_whose_uuid_the_cloud_refuses_on_retry_reaches_orthanc_under_a_new_one(
    api_cloud: Any, orthanc: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud, _clients, _uploader, admin = api_cloud(worker_command=WORKER_JOB)
    config = AgentConfig.load(enable_site(admin, orthanc, tmp_path))
    task, patient, site = export_task(config.base, seed=92)
    journal_file = OrtFolders(config.base).journal_file(task)

    def before_step(uuid: str, step: str) -> None:
        # Under the running agent, the cloud loses the task's record, and its UUID
        # comes to be held by another user, as a key of another user would leave it.
        if step == "poll" and not TaskJournal(journal_file).is_done("restart"):
            cloud.wait_for_task(uuid, {"SUCCEEDED"}, timeout=AGENT_SECONDS)
            Task.get(uuid).delete()
            open_task(uuid, user_name="erin", site_id="site-b", now=time.time())

    agent = Agent(config, before_step=before_step)
    run_agent_until(agent, lambda: task in agent.failed | agent.finished, AGENT_SECONDS)
    assert task in agent.failed
    assert main(["--config", str(config.path), "retry", task]) == 0
    assert "uploaded again under the same UUID" in capsys.readouterr().out

    again = Agent(config, before_step=before_step)
    run_agent_until(again, lambda: task in again.finished | again.failed, AGENT_SECONDS)
    assert task in again.finished, [row.error for row in task_rows(config.base)]

    # The journal keeps both: the site's UUID names it, the restart the cloud's.
    restart = TaskJournal(journal_file).facts("restart")
    new = restart["cloud_uuid"]
    assert restart == {
        "count": 2,
        "cloud_uuid": new,
        "reason": "the cloud refused the UUID for this user",
        "refused_uuid": task,
    }
    assert new != task
    assert Task.get(task).user_name == "erin"
    assert cloud.wait_for_task(new, {"DELIVERED"}, timeout=10).user_name == USER

    # Objects and the task file went up under the new UUID; no identity with them.
    s3 = boto3.client("s3")
    bucket = cloud.settings.in_bucket
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{USER}/{new}/")["Contents"]
    assert {item["Key"] for item in listed} == {
        f"{USER}/{new}/{task}.dat",
        f"{USER}/{new}/{new}.task",
    }
    task_file = s3.get_object(Bucket=bucket, Key=f"{USER}/{new}/{new}.task")["Body"].read()
    assert f"UUID={new}".encode() in task_file
    assert leaks_in_bucket(s3, bucket, forbidden_values(patient, site))[1] == {}

    # Orthanc holds the patient again, marked with the site's UUID.
    [study] = studies_of(orthanc, patient.patient_id)
    assert study["PatientMainDicomTags"]["PatientName"] == patient.name
    instances = [i for s in study["Series"] for i in orthanc.series_info(s)["Instances"]]
    assert len(instances) == SLICES
    assert orthanc.tags(instances[0])["PatientComments"] == task


def test_a_task_whose_new_cloud_uuid_is_refused_too_fails_and_says_what_to_do(
    api_cloud: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, config = agent_site(api_cloud, tmp_path)
    task, _, _ = export_task(config.base, seed=93)
    journal_file = OrtFolders(config.base).journal_file(task)

    def before_step(uuid: str, step: str) -> None:
        # Another user holds each UUID the task is about to go up under.
        if step == "upload":
            held = cloud_uuid_of(TaskJournal(journal_file), uuid)
            open_task(held, user_name="erin", site_id="site-b", now=time.time())

    agent = Agent(config, before_step=before_step)
    run_agent_until(agent, lambda: task in agent.failed | agent.finished, AGENT_SECONDS)
    assert task in agent.failed
    restart = TaskJournal(journal_file).facts("restart")
    assert restart["refused_uuid"] == task and restart["cloud_uuid"] != task
    [row] = [row for row in task_rows(config.base) if row.uuid == task]
    assert f"under the new UUID {restart['cloud_uuid']} too" in row.error
    assert "retry" in row.error

    assert main(["--config", str(config.path), "retry", task]) == 0
    said = capsys.readouterr().out
    assert f"uploaded again under its cloud UUID {restart['cloud_uuid']}" in said
