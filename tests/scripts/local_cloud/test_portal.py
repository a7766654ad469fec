"""The portal launcher for the local cloud: keys made in the portal sign calls to the local API."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

from portal_flask.models import SITE_ADMIN
from scripts.local_cloud.api_client import ApiClient
from scripts.local_cloud.portal import add_account, build_app, portal_config
from tests.portal_flask.helpers import post_form, set_up_two_step

REPO = Path(__file__).resolve().parents[3]
EMAIL = "admin@site-a.example.org"


def cloud_env(cloud) -> dict[str, str]:
    """What the local cloud writes into its ready file."""
    return {
        **cloud.client_env(),
        **cloud.settings.to_env(),
        "YC_LOCAL_CREDENTIALS": str(cloud.credentials.path),
    }


def shown_key(page: str) -> tuple[str, str]:
    key_id = re.search(r'id="access-key-id">([^<]+)<', page).group(1)
    secret = re.search(r'id="secret">([^<]+)<', page).group(1)
    return key_id, secret


def test_a_key_created_in_the_local_portal_signs_calls_to_the_local_api(seeded_cloud, tmp_path):
    cloud, _ = seeded_cloud()
    env = cloud_env(cloud)
    work_dir = tmp_path / "portal"
    app = build_app(env, work_dir)
    password = add_account(portal_config(env, work_dir), EMAIL, SITE_ADMIN, "site-a")
    client = app.test_client()
    signed_in = post_form(client, "/auth/sign-in", {"email": EMAIL, "password": password})
    assert signed_in.status_code == 302
    set_up_two_step(client, time.time())  # as a site administrator must, before any page

    page = post_form(client, "/keys/users", {"user_name": "scanner1"}, token_from="/keys/")
    key_id, secret = shown_key(page.get_data(as_text=True))

    api = ApiClient(cloud.api.endpoint, key_id, secret, cloud.region)
    assert api.post("user_status").status == 200
    config = tomllib.loads(
        client.get(f"/keys/users/scanner1/keys/{key_id}/agent.toml").get_data(as_text=True)
    )
    assert config["cloud"]["api_url"] == cloud.api.endpoint
    assert config["cloud"]["s3_endpoint"] == cloud.endpoint
    assert config["cloud"]["access_key_id"] == key_id

    revoked = post_form(
        client, f"/keys/users/scanner1/keys/{key_id}/revoke", {}, token_from="/keys/"
    )
    assert revoked.status_code == 302
    assert api.post("user_status").status == 403


def test_the_launcher_serves_the_portal_on_loopback_and_stops_on_sigterm(seeded_cloud, tmp_path):
    cloud, _ = seeded_cloud()
    ready = tmp_path / "cloud.json"
    ready.write_text(json.dumps(cloud_env(cloud)))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scripts.local_cloud.portal",
            "--cloud",
            str(ready),
            "--work-dir",
            str(tmp_path / "portal"),
            "--ready-file",
            str(tmp_path / "portal-ready"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("portal at http://127.0.0.1:"), line
        url = line.split()[-1]
        assert (tmp_path / "portal-ready").read_text().strip() == url
        with urllib.request.urlopen(url + "/auth/sign-in", timeout=30) as answer:
            assert answer.status == 200
            assert 'name="csrf_token"' in answer.read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_the_launcher_without_a_cloud_says_how_to_start_one(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "scripts.local_cloud.portal", "--cloud", str(tmp_path / "no.json")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no local cloud is described at" in result.stderr
    assert "python -m scripts.local_cloud" in result.stderr
    assert "Traceback" not in result.stderr
