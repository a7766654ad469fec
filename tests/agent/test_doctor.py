"""``doctor`` with the config ``scripts/admin`` writes, against the local cloud, as a site runs it.

It runs as its own process with no AWS variables in its environment: the config alone
says where the API and S3 are.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from administration.destinations import put_destination
from agent.config import AgentConfig
from functions.core.destinations import Destination
from scripts.local_cloud.cloud import REPO_ROOT
from tests.agent.site import MODE, SITE, USER


def site_config(api_cloud: Any, tmp_path: Path) -> tuple[Any, Path]:
    cloud, _clients, _uploader, admin = api_cloud(poll=False)
    admin.enable_mode(SITE, MODE, vcpus=2, memory_mib=2048, spot=True, timeout_seconds=600)
    share = tmp_path / "share"
    share.mkdir()
    admin.add_destination(SITE, Destination("share", "smb", location=str(share)))
    config = tmp_path / "agent" / "agent.toml"
    admin.add_user(USER, SITE, agent_config=config, agent_base=tmp_path / "ort")
    return cloud, config


def doctor(config: Path) -> subprocess.CompletedProcess[str]:
    """``python -m agent --config CONFIG doctor`` with no AWS variables at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "agent", "--config", str(config), "doctor"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_the_admin_written_config_names_the_local_s3_and_doctor_passes_with_it(
    api_cloud: Any, tmp_path: Path
) -> None:
    cloud, config = site_config(api_cloud, tmp_path)
    assert AgentConfig.load(config).s3_endpoint == cloud.endpoint

    done = doctor(config)

    print(done.stdout, done.stderr)
    assert done.returncode == 0
    assert "FAIL" not in done.stdout
    assert f"in bucket {cloud.settings.in_bucket} reachable at {cloud.endpoint}" in done.stdout


def test_doctor_reports_an_s3_it_cannot_reach_as_a_connection_failure(
    api_cloud: Any, tmp_path: Path
) -> None:
    _, config = site_config(api_cloud, tmp_path)
    with socket.socket() as probe:  # a port the OS handed out, now closed
        probe.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{probe.getsockname()[1]}"
    text = config.read_text()
    endpoint = AgentConfig.load(config).s3_endpoint
    config.write_text(text.replace(f'"{endpoint}"', f'"{nowhere}"'))

    done = doctor(config)

    print(done.stdout, done.stderr)
    assert done.returncode != 0
    assert f"cannot connect to S3 at {nowhere}" in done.stdout
    assert "policy" not in done.stdout


def test_doctor_fails_a_destination_the_cloud_names_that_the_config_does_not_allow(
    api_cloud: Any, tmp_path: Path
) -> None:
    _, config = site_config(api_cloud, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    put_destination(SITE, Destination("elsewhere", "smb", location=str(elsewhere)))

    done = doctor(config)

    print(done.stdout, done.stderr)
    assert done.returncode != 0
    assert f"FAIL  mode {MODE}" in done.stdout and "elsewhere" in done.stdout
    assert "OK    destination share" in done.stdout
    assert list(elsewhere.iterdir()) == []
