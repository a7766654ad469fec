"""Connection tests run at the site: the portal asks, the agent tests its own destinations.

Against the local cloud's API and a real Orthanc: the tests the portal asked for are
fetched by the running agent, which C-ECHOes the PACS and test-writes the folder of
its own config, answers a name its config lacks as failed, and posts each outcome
where the portal reads it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from agent.api import CloudApi
from agent.config import AgentConfig
from agent.errors import CloudError
from agent.service import Agent
from functions.core.connection_tests import last_tests, pending, request_test
from functions.core.destinations import Destination as SiteDestination
from functions.core.models import Site
from tests.agent.site import SITE, allow_folder, enable_site, run_agent_until


def site() -> Site:
    return Site.get(SITE, consistent_read=True)


def test_the_agent_runs_the_tests_the_portal_asked_for_against_its_own_destinations(
    api_cloud: Any, orthanc: Any, tmp_path: Path
) -> None:
    _cloud, _clients, _uploader, admin = api_cloud(poll=False)
    config_path = enable_site(admin, orthanc, tmp_path)
    share = allow_folder(admin, config_path, tmp_path / "share")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    admin.add_destination(SITE, SiteDestination("elsewhere", "smb", location=str(elsewhere)))
    config = AgentConfig.load(config_path)
    for name in ("orthanc", "share", "elsewhere"):
        assert request_test(site(), name, now=time.time())
    assert pending(site()) == ["elsewhere", "orthanc", "share"]

    agent = Agent(config)
    run_agent_until(agent, lambda: not pending(site()), 60)

    results = last_tests(site())
    print(results)
    assert results["orthanc"].state == "ok" and "answers C-ECHO" in results["orthanc"].message
    assert results["share"].state == "ok" and "is writable" in results["share"].message
    assert results["elsewhere"].state == "failed"
    assert "lists no destination of this name" in results["elsewhere"].message
    assert list(elsewhere.iterdir()) == [] and list(share.iterdir()) == []

    api = CloudApi(config.api_url, config.access_key_id, config.secret, config.region)
    with pytest.raises(CloudError) as refused:
        api.destination_test_result("no-such-destination", ok=True, message="")
    assert refused.value.status == 404
