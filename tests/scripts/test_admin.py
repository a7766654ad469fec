"""The admin command against a local cloud: what each command leaves in DynamoDB, IAM and the
credential store, the agent's config it writes, and the mistakes it refuses."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from functions.core.destinations import Destination, site_destinations
from functions.core.models import ModeCatalog, ModeSettings, Site, User
from scripts.admin import main
from scripts.local_cloud.cloud import REPO_ROOT, LocalCloud

MODE_FILE = """\
[ClientConfig]
Name=GRASP DCE
Tag=_grasp
MinimumSizeMB=20
ParamLabel=Spokes per frame
ParamDescription=Radial spokes in each time frame
ParamDefault=34
ParamMin=8
ParamMax=144
ParamIsFloat=false
SortIndex=3

[Reconstruction]
Bin=%rid/grasp --in %rif
"""


@pytest.fixture
def cloud(make_cloud) -> LocalCloud:
    return make_cloud(poll=False)


def write_ready(cloud: LocalCloud, path: Path, **changes: str | None) -> Path:
    """The ready file the local cloud writes; a change to None leaves that variable out."""
    env = {
        **cloud.client_env(),
        **cloud.settings.to_env(),
        "YC_LOCAL_CREDENTIALS": str(cloud.credentials.path),
        **changes,
    }
    path.write_text(json.dumps({k: v for k, v in env.items() if v is not None}))
    return path


@pytest.fixture
def ready(cloud: LocalCloud, tmp_path: Path) -> Path:
    return write_ready(cloud, tmp_path / "ready.json")


@pytest.fixture
def admin(ready: Path, capsys):
    """Runs the admin command in this process: (exit status, stdout, stderr)."""

    def run(command: str, *paths: object) -> tuple[int, str, str]:
        """``command`` is split as a shell would; ``paths`` are appended as they are."""
        status = main(["--cloud", str(ready), *shlex.split(command), *map(str, paths)])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def iam(cloud: LocalCloud):
    return cloud.clients.session.client("iam")


def keys_of(cloud: LocalCloud, user: str) -> dict[str, str]:
    listed = iam(cloud).list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {k["AccessKeyId"]: k["Status"] for k in listed}


def secret_from(out: str) -> str:
    return next(
        line.split(":", 1)[1].strip() for line in out.splitlines() if "secret access" in line
    )


def key_id_from(out: str) -> str:
    return next(
        line.split(":", 1)[1].strip() for line in out.splitlines() if "access key id" in line
    )


@pytest.fixture
def site_with_mode(admin):
    assert admin("site add site-a --name 'Site A'")[0] == 0
    assert admin("mode publish demo_fft --name 'Demo FFT'")[0] == 0
    return "site-a"


# -- sites and modes -------------------------------------------------------------------


def test_site_add_creates_a_site_that_bills_nothing_and_refuses_a_second_one(admin):
    status, out, _ = admin("site add site-a --name 'Klinik A'")
    assert status == 0
    assert "Created site site-a (Klinik A)" in out
    site = Site.get("site-a", consistent_read=True)
    assert (site.name, site.billing_mode, site.suspended) == ("Klinik A", "none", False)

    status, _, err = admin("site add site-a --name Other")
    assert status == 2
    assert "site site-a exists already" in err
    assert Site.get("site-a", consistent_read=True).name == "Klinik A"


def test_mode_publish_from_options_stores_a_full_client_config(admin):
    status, out, _ = admin(
        "mode publish sense_t1 --name 'SENSE T1' --tag _s --param-label Factor"
        " --param-default 1.5 --param-min 1 --param-max 4 --param-float"
    )
    assert status == 0, out
    assert "Published mode sense_t1 (SENSE T1)" in out
    entry = ModeCatalog.get("sense_t1", consistent_read=True)
    assert entry.client_config.as_dict() == {
        "Name": "SENSE T1",
        "Tag": "_s",
        "MinimumSizeMB": 0,
        "ParamLabel": "Factor",
        "ParamDescription": "",
        "ParamDefault": 1.5,
        "ParamMin": 1.0,
        "ParamMax": 4.0,
        "ParamIsFloat": True,
    }
    assert entry.disabled is False


def test_mode_publish_reads_a_yarra_mode_file(admin, tmp_path):
    path = tmp_path / "grasp_dce.mode"
    path.write_text(MODE_FILE)
    status, _, err = admin("mode publish --mode-file", path)
    assert status == 0, err
    config = ModeCatalog.get("grasp_dce", consistent_read=True).client_config.as_dict()
    assert config == {
        "Name": "GRASP DCE",
        "Tag": "_grasp",
        "MinimumSizeMB": 20,
        "ParamLabel": "Spokes per frame",
        "ParamDescription": "Radial spokes in each time frame",
        "ParamDefault": 34,
        "ParamMin": 8,
        "ParamMax": 144,
        "ParamIsFloat": False,
    }
    path.write_text("[Reconstruction]\nBin=x\n")
    status, _, err = admin("mode publish --mode-file", path)
    assert status == 2
    assert "no [ClientConfig] section" in err


def test_the_local_cloud_publishes_the_workers_built_in_modes(cloud):
    assert {"yc_cartesian", "yc_cartesian_adaptive"} <= set(cloud.published_modes)
    config = ModeCatalog.get("yc_cartesian", consistent_read=True).client_config.as_dict()
    assert config["Name"] == "Cartesian FFT (root-sum-of-squares)"
    assert config["ParamMax"] == 64


def test_mode_publish_folder_publishes_all_or_nothing(admin, tmp_path):
    folder = tmp_path / "modes"
    folder.mkdir()
    (folder / "grasp_dce.mode").write_text(MODE_FILE)
    status, out, err = admin("mode publish --folder", folder)
    assert status == 0, err
    assert "Published 1 modes" in out
    assert ModeCatalog.get("grasp_dce", consistent_read=True).client_config["Name"] == "GRASP DCE"

    (folder / "broken.mode").write_text("[ClientConfig]\nName=No reconstruction\n")
    (folder / "grasp_dce.mode").write_text(MODE_FILE.replace("GRASP DCE", "GRASP v2"))
    status, _, err = admin("mode publish --folder", folder)
    assert status == 2
    assert "nothing published" in err and "broken" in err
    assert ModeCatalog.get("grasp_dce", consistent_read=True).client_config["Name"] == "GRASP DCE"


def test_mode_enable_and_disable_keep_the_sites_settings(admin, site_with_mode):
    status, out, _ = admin(
        "mode enable site-a demo_fft --vcpus 8 --memory-mib 16384 --on-demand"
        " --timeout-seconds 1800"
    )
    assert status == 0
    assert "8 vCPUs, 16384 MiB, on-demand instances, time limit 1800 s" in out
    settings = ModeSettings.get("site-a", "demo_fft", consistent_read=True)
    assert (settings.enabled, settings.vcpus, settings.memory_mib) == (True, 8, 16384)
    assert (settings.spot, settings.timeout_seconds) == (False, 1800)

    assert admin("mode disable site-a demo_fft")[0] == 0
    settings = ModeSettings.get("site-a", "demo_fft", consistent_read=True)
    assert (settings.enabled, settings.vcpus, settings.spot) == (False, 8, False)

    assert admin("mode enable site-a demo_fft --spot")[0] == 0
    settings = ModeSettings.get("site-a", "demo_fft", consistent_read=True)
    assert (settings.enabled, settings.vcpus, settings.spot) == (True, 8, True)


def test_mode_enable_refuses_an_unknown_mode_or_site_and_a_too_short_time_limit(
    admin, site_with_mode
):
    status, _, err = admin("mode enable site-a nope")
    assert status == 2
    assert "mode nope is not in the mode catalog; publish it first" in err
    status, _, err = admin("mode enable site-z demo_fft")
    assert status == 2
    assert "there is no site site-z" in err
    status, _, err = admin("mode enable site-a demo_fft --timeout-seconds 5")
    assert status == 2
    assert "--timeout-seconds must be at least 60" in err
    with pytest.raises(ModeSettings.DoesNotExist):
        ModeSettings.get("site-a", "demo_fft", consistent_read=True)


# -- destinations ----------------------------------------------------------------------


def test_destinations_are_added_replaced_and_removed_on_the_site_record(admin, site_with_mode):
    status, out, _ = admin(
        "destination add site-a pacs --pacs 10.0.0.5:4242 --aet YARRA --aec ORTHANC"
    )
    assert status == 0
    assert "Added destination pacs" in out
    status, out, _ = admin("destination add site-a share --folder /mnt/recon --mode demo_fft")
    assert status == 0
    site = Site.get("site-a", consistent_read=True)
    assert site_destinations(site.destinations.as_dict()) == [
        Destination("pacs", "PACS", ip="10.0.0.5", port=4242, aet="YARRA", aec="ORTHANC"),
        Destination("share", "smb", location="/mnt/recon", modes=("demo_fft",)),
    ]

    status, out, _ = admin("destination add site-a share --folder /mnt/other")
    assert status == 0
    assert "Replaced destination share" in out
    assert admin("destination remove site-a pacs")[0] == 0
    records = Site.get("site-a", consistent_read=True).destinations.as_dict()
    assert records == {"share": {"method": "smb", "modes": [], "location": "/mnt/other"}}

    status, _, err = admin("destination remove site-a pacs")
    assert status == 2
    assert "site site-a has no destination pacs (it has: share)" in err


def test_a_pacs_destination_without_its_ae_titles_is_refused(admin, site_with_mode):
    status, _, err = admin("destination add site-a pacs --pacs 10.0.0.5:104")
    assert status == 2
    assert "a PACS destination needs both AE titles" in err
    assert "--aet" in err and "--aec" in err
    status, _, err = admin("destination add site-a pacs --pacs 10.0.0.5:port --aet A --aec B")
    assert status == 2
    assert "the port must be a number" in err
    status, _, err = admin("destination add site-a x --folder /x --mode unpublished")
    assert status == 2
    assert "mode unpublished is not in the mode catalog" in err
    assert Site.get("site-a", consistent_read=True).destinations.as_dict() == {}


# -- users and keys --------------------------------------------------------------------


def test_user_add_creates_the_iam_user_its_key_record_and_agent_config(
    admin, cloud, site_with_mode, tmp_path
):
    config_path = tmp_path / "agent" / "agent.toml"
    base = tmp_path / "yarra"
    status, out, err = admin(
        f"user add alice --site site-a --agent-config {shlex.quote(str(config_path))}"
        f" --agent-base {shlex.quote(str(base))}"
    )
    assert status == 0, err
    key_id, secret = key_id_from(out), secret_from(out)
    assert out.count(secret) == 1, "the secret is shown exactly once"

    client = iam(cloud)
    client.get_user(UserName="alice")
    groups = client.list_groups_for_user(UserName="alice")["Groups"]
    assert [g["GroupName"] for g in groups] == [cloud.resources.site_user_group()]
    assert keys_of(cloud, "alice") == {key_id: "Active"}
    stored = cloud.credentials.get(key_id)
    assert stored is not None
    assert (stored.secret_access_key, stored.user_name) == (secret, "alice")
    user = User.get("alice", consistent_read=True)
    assert (user.site_id, user.enabled) == ("site-a", True)

    config = tomllib.loads(config_path.read_text())
    secret_file = config_path.with_suffix(".secret")
    assert config == {
        "cloud": {
            "api_url": cloud.client_env()["YC_API_URL"],
            "region": cloud.region,
            "access_key_id": key_id,
            "secret_file": str(secret_file),
            "s3_endpoint": cloud.endpoint,
        },
        "folders": {"base": str(base)},
        "agent": {"concurrency": 1, "poll_seconds": 10, "bandwidth_mbps": 0, "keep_days": 30},
    }
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert secret_file.read_text() == stored.secret_access_key


def test_the_agent_config_quotes_what_toml_needs_quoted(cloud, tmp_path):
    url = 'http://127.0.0.1:8443/a "quoted" \\ path'
    ready = write_ready(cloud, tmp_path / "ready.json", YC_API_URL=url)
    assert main(["--cloud", str(ready), "site", "add", "s", "--name", "S"]) == 0
    config_path = tmp_path / "dir with space" / "agent.toml"
    argv = ["--cloud", str(ready), "user", "add", "bob", "--site", "s"]
    assert main([*argv, "--agent-config", str(config_path)]) == 0
    config = tomllib.loads(config_path.read_text())
    assert config["cloud"]["api_url"] == url
    assert config["folders"]["base"] == str(config_path.parent)


def test_without_an_api_url_the_agent_config_says_where_it_goes(cloud, tmp_path, capsys):
    ready = write_ready(cloud, tmp_path / "ready.json", YC_API_URL=None)
    assert main(["--cloud", str(ready), "site", "add", "s", "--name", "S"]) == 0
    config_path = tmp_path / "agent.toml"
    argv = ["--cloud", str(ready), "user", "add", "bob", "--site", "s"]
    assert main([*argv, "--agent-config", str(config_path)]) == 0
    assert "api_url" not in tomllib.loads(config_path.read_text())["cloud"]
    assert "# api_url = " in config_path.read_text()
    assert "publishes no API URL yet" in capsys.readouterr().out


def test_user_add_refuses_an_unknown_site_a_taken_name_and_an_existing_config(
    admin, cloud, site_with_mode, tmp_path
):
    status, _, err = admin("user add alice --site site-z")
    assert status == 2
    assert "there is no site site-z; create it first with `scripts/admin site add site-z" in err
    assert iam(cloud).list_users()["Users"] == []
    with pytest.raises(User.DoesNotExist):
        User.get("alice", consistent_read=True)

    status, _, err = admin("user add alice/x --site site-a")
    assert status == 2
    assert "cannot be a user name" in err

    taken = tmp_path / "taken.toml"
    taken.write_text("")
    status, _, err = admin("user add alice --site site-a --agent-config", taken)
    assert status == 2
    assert f"{taken} exists already" in err
    assert iam(cloud).list_users()["Users"] == []

    assert admin("user add alice --site site-a")[0] == 0
    status, _, err = admin("user add alice --site site-a")
    assert status == 2
    assert "user alice exists already (at site site-a)" in err
    assert len(keys_of(cloud, "alice")) == 1


def test_user_add_undoes_everything_when_the_agent_config_cannot_be_written(
    admin, cloud, site_with_mode, tmp_path, monkeypatch
):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("scripts.admin.write_agent_config", disk_full)
    config_path = tmp_path / "agent.toml"
    status, out, err = admin("user add alice --site site-a --agent-config", config_path)
    assert status == 2
    assert "cannot write the agent's config" in err and "No space left" in err
    assert "secret" not in out
    assert iam(cloud).list_users()["Users"] == []
    assert json.loads(cloud.credentials.path.read_text()) == {}
    with pytest.raises(User.DoesNotExist):
        User.get("alice", consistent_read=True)
    assert admin("user add alice --site site-a")[0] == 0, "the name is free again"


def test_key_rotate_replaces_the_key_in_iam_and_the_store(admin, cloud, site_with_mode):
    status, out, _ = admin("user add alice --site site-a")
    old_id = key_id_from(out)
    status, out, _ = admin("key rotate alice")
    assert status == 0
    new_id, new_secret = key_id_from(out), secret_from(out)
    assert new_id != old_id
    assert f"Deleted the old key {old_id}" in out
    assert keys_of(cloud, "alice") == {new_id: "Active"}
    assert cloud.credentials.get(old_id) is None
    stored = cloud.credentials.get(new_id)
    assert stored is not None
    assert stored.secret_access_key == new_secret

    status, _, err = admin("key rotate nobody")
    assert status == 2
    assert "IAM has no such entity" in err


def test_key_deactivate_and_revoke_change_iam_and_the_store(admin, cloud, site_with_mode):
    key_id = key_id_from(admin("user add alice --site site-a")[1])

    status, out, _ = admin("key deactivate", key_id)
    assert status == 0
    assert f"Deactivated access key {key_id} of alice" in out
    assert keys_of(cloud, "alice") == {key_id: "Inactive"}

    status, out, _ = admin("key revoke", key_id)
    assert status == 0
    assert f"Revoked access key {key_id} of alice" in out
    assert keys_of(cloud, "alice") == {}
    assert cloud.credentials.get(key_id) is None

    for action in ("revoke", "deactivate"):
        status, _, err = admin(f"key {action}", key_id)
        assert status == 2
        assert f"there is no access key {key_id}" in err


# -- the command itself ----------------------------------------------------------------


def test_without_a_running_cloud_it_says_how_to_start_one(tmp_path, capsys):
    status = main(["--cloud", str(tmp_path / "missing.json"), "site", "add", "s", "--name", "S"])
    assert status == 2
    assert "start one with `python -m scripts.local_cloud`" in capsys.readouterr().err


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["--cloud", str(tmp_path / "r.json"), "destination", "add", "s", "n"]) == 2
    assert "one of the arguments --pacs --folder is required" in capsys.readouterr().err


def test_the_command_runs_as_a_process(ready, cloud):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "scripts.admin", "--cloud", str(ready)]
    command += ["site", "add", "site-p", "--name", "Process Site"]
    result = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Created site site-p (Process Site)" in result.stdout
    assert Site.get("site-p", consistent_read=True).name == "Process Site"


def user_status(cloud_settings: dict, secret: str) -> tuple[int, dict]:
    """``v1/user_status`` signed as the Yarra client signs it, with the config's key."""
    request = AWSRequest(
        method="POST",
        url=f"{cloud_settings['api_url']}/v1/user_status",
        data=b"",
        headers={"Content-Type": "application/json"},
    )
    credentials = Credentials(cloud_settings["access_key_id"], secret)
    SigV4Auth(credentials, "execute-api", cloud_settings["region"]).add_auth(request)
    prepared = request.prepare()
    http = urllib.request.Request(prepared.url, method="POST", headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(http, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_the_agent_config_signs_requests_the_api_accepts_until_the_key_is_revoked(
    admin, site_with_mode, tmp_path
):
    config_path = tmp_path / "agent.toml"
    assert admin("user add alice --site site-a --agent-config", config_path)[0] == 0
    settings = tomllib.loads(config_path.read_text())["cloud"]
    secret = Path(settings["secret_file"]).read_text()
    status, body = user_status(settings, secret)
    assert status == 200, body
    assert body["username"] == "alice"

    assert admin("key revoke", settings["access_key_id"])[0] == 0
    assert user_status(settings, secret)[0] == 403
