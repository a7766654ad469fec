"""The task's steps against the local cloud: what the agent makes of the cloud's refusals."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.config import AgentConfig
from agent.journal import TaskJournal
from agent.ort import OrtFolders
from agent.service import Agent
from agent.status import task_rows
from functions.core.models import Task
from tests.agent.site import AGENT_SECONDS, MODE, SITE, USER, export_task, run_agent_until


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
