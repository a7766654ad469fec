"""The agent's TOML config as scripts/admin writes it, and the mistakes a site can make in it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.config import AgentConfig
from agent.errors import ConfigError
from agent.service import s3_client
from scripts.admin import write_agent_config

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def written_by_admin(tmp_path: Path, api_url: str | None = "http://127.0.0.1:4567") -> Path:
    config = tmp_path / "agent.toml"
    write_agent_config(
        config,
        tmp_path / "agent.secret",
        api_url=api_url,
        region="eu-central-1",
        access_key_id="AKIAEXAMPLE",
        secret_access_key=SECRET,
        base=tmp_path / "yarra",
    )
    return config


def with_text(tmp_path: Path, body: str) -> Path:
    secret = tmp_path / "agent.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    config = tmp_path / "agent.toml"
    config.write_text(
        '[cloud]\napi_url = "https://api.example.org/prod/"\nregion = "us-east-1"\n'
        'access_key_id = "AKIAEXAMPLE"\nsecret_file = "agent.secret"\n\n'
        '[folders]\nbase = "yarra"\n\n' + body
    )
    return config


def test_the_admins_config_loads_with_its_defaults(tmp_path):
    config = AgentConfig.load(written_by_admin(tmp_path))
    assert config.api_url == "http://127.0.0.1:4567"
    assert config.region == "eu-central-1"
    assert config.access_key_id == "AKIAEXAMPLE"
    assert config.secret == SECRET
    assert config.base == tmp_path / "yarra"
    assert (config.concurrency, config.poll_seconds, config.bandwidth_mbps) == (1, 10, 0)
    assert config.keep_days == 30
    assert config.bandwidth_bytes_per_second is None
    assert config.destinations == ()
    assert SECRET not in repr(config)


def test_relative_paths_are_beside_the_config_and_destinations_are_kept(tmp_path):
    config = AgentConfig.load(
        with_text(
            tmp_path,
            "[agent]\nconcurrency = 3\npoll_seconds = 2.5\nbandwidth_mbps = 80\n\n"
            '[[destination]]\nmethod = "PACS"\nname = "pacs"\nip = "10.0.0.5"\nport = 104\n'
            'aet = "YARRA"\naec = "PACS"\n\n'
            '[[destination]]\nmethod = "smb"\nname = "share"\nlocation = "/mnt/recon"\n',
        )
    )
    assert config.api_url == "https://api.example.org/prod"
    assert config.base == tmp_path / "yarra"
    assert config.secret_file == tmp_path / "agent.secret"
    assert (config.concurrency, config.poll_seconds) == (3, 2.5)
    assert config.bandwidth_bytes_per_second == 10_000_000
    assert [d["name"] for d in config.destinations] == ["pacs", "share"]
    assert config.destinations[0]["port"] == 104


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_secret_others_can_read_is_refused_with_the_chmod_to_run(tmp_path, mode):
    path = written_by_admin(tmp_path)
    (tmp_path / "agent.secret").chmod(mode)
    with pytest.raises(ConfigError) as refused:
        AgentConfig.load(path)
    assert f"chmod 600 {tmp_path / 'agent.secret'}" in str(refused.value)
    assert SECRET not in str(refused.value)


def test_the_s3_endpoint_is_optional_and_the_environment_overrides_it(tmp_path, monkeypatch):
    assert AgentConfig.load(written_by_admin(tmp_path)).s3_endpoint == ""
    path = written_by_admin(tmp_path / "local")
    path.write_text(
        path.read_text().replace("[folders]", 's3_endpoint = "http://127.0.0.1:4566/"\n\n[folders]')
    )
    config = AgentConfig.load(path)
    assert config.s3_endpoint == "http://127.0.0.1:4566"
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    assert s3_client(config, os.environ).meta.endpoint_url == "http://127.0.0.1:4566"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9999")
    assert s3_client(config, os.environ).meta.endpoint_url == "http://127.0.0.1:9999"


@pytest.mark.parametrize(
    "change,expected",
    [
        (lambda c: c.replace("region =", "# region ="), "missing [cloud] region"),
        (lambda c: c.replace("api_url =", "# api_url ="), "missing [cloud] api_url"),
        (lambda c: c.replace("base =", "bsae ="), "unknown key 'bsae' in [folders]"),
        (lambda c: c.replace("concurrency = 1", "concurrency = 0"), "concurrency must be"),
        (lambda c: c.replace("poll_seconds = 10", 'poll_seconds = "10"'), "poll_seconds"),
        (lambda c: c.replace("keep_days = 30", "keep_days = -1"), "keep_days must be a whole"),
        (lambda c: c + "\n[sentry]\ndsn = 1\n", "unknown section or key 'sentry'"),
        (lambda c: c.replace("[agent]", "[agent"), "is not valid TOML"),
        (
            lambda c: c.replace('api_url = "http://127.0.0.1:4567"', 'api_url = "127.0.0.1"'),
            "api_url must be an http",
        ),
        (
            lambda c: c.replace("[folders]", 's3_endpoint = "minio:9000"\n\n[folders]'),
            "s3_endpoint must be an http",
        ),
    ],
    ids=[
        "missing-key",
        "missing-api-url",
        "misspelt-key",
        "zero-concurrency",
        "string-number",
        "negative-keep-days",
        "unknown-section",
        "not-toml",
        "not-a-url",
        "s3-endpoint-not-a-url",
    ],
)
def test_a_wrong_config_names_the_key_and_the_file(tmp_path, change, expected):
    path = written_by_admin(tmp_path)
    path.write_text(change(path.read_text()))
    with pytest.raises(ConfigError) as refused:
        AgentConfig.load(path)
    assert expected in str(refused.value)
    assert str(path) in str(refused.value)


def test_a_missing_or_empty_secret_file_says_what_to_put_there(tmp_path):
    path = written_by_admin(tmp_path)
    secret = tmp_path / "agent.secret"
    secret.write_text("  \n")
    with pytest.raises(ConfigError, match="is empty; put the user's secret access key there"):
        AgentConfig.load(path)
    secret.unlink()
    with pytest.raises(ConfigError, match="does not exist"):
        AgentConfig.load(path)


def test_a_missing_config_says_how_to_write_one(tmp_path):
    with pytest.raises(ConfigError, match="does not exist; write it with"):
        AgentConfig.load(tmp_path / "nowhere.toml")
