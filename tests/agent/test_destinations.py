"""Where identified images go is the site's decision, not the cloud's.

The agent's config lists the destinations the site allows; the cloud's
``v1/mode_destinations`` only chooses among them by name. A destination added in
the cloud (a typo in the portal, a compromised portal or cloud account) must
receive nothing, and nothing may be delivered anywhere else either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.config import AgentConfig
from agent.service import Agent
from agent.status import task_rows
from functions.core.destinations import Destination as SiteDestination
from scripts.local_cloud.cloud import WORKER_JOB
from tests.agent.site import (
    AGENT_SECONDS,
    MODE,
    SITE,
    enable_site,
    export_task,
    run_agent_until,
    studies_of,
)


@pytest.mark.slow
def test_a_destination_added_in_the_cloud_receives_nothing_and_the_task_fails_with_why(
    api_cloud: Any, orthanc: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _cloud, _clients, _uploader, admin = api_cloud(worker_command=WORKER_JOB)
    config_path = enable_site(admin, orthanc, tmp_path)
    config = AgentConfig.load(config_path)
    assert [table["name"] for table in config.destinations] == ["orthanc"]
    # After the agent was set up, the cloud starts sending the mode's images elsewhere too.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    admin.add_destination(SITE, SiteDestination("elsewhere", "smb", location=str(elsewhere)))
    task, patient, _site = export_task(config.base, seed=2201)

    agent = Agent(config)
    run_agent_until(agent, lambda: task in agent.failed | agent.finished, AGENT_SECONDS)

    assert task in agent.failed
    [row] = [row for row in task_rows(config.base) if row.uuid == task]
    print(row.error)
    assert "'elsewhere'" in row.error and MODE in row.error
    assert "does not allow" in row.error and "nothing was delivered" in row.error
    assert list(elsewhere.iterdir()) == [], "the cloud's destination received something"
    assert studies_of(orthanc, patient.patient_id) == [], "delivered although the task failed"

    # The portal's choice is put right: the task is retried and reaches the site's PACS.
    admin.remove_destination(SITE, "elsewhere")
    assert main(["--config", str(config_path), "retry", task]) == 0
    capsys.readouterr()
    again = Agent(config)
    run_agent_until(again, lambda: task in again.failed | again.finished, AGENT_SECONDS)
    assert task in again.finished
    assert len(studies_of(orthanc, patient.patient_id)) == 1
    assert list(elsewhere.iterdir()) == []
