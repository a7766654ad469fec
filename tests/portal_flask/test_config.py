"""PortalConfig.from_env: the local default, production's requirements, bad values."""

from __future__ import annotations

import stat

import pytest

from functions.core.errors import ConfigurationError
from portal_flask.config import PortalConfig


def test_the_local_default_is_a_sqlite_file_with_a_secret_kept_beside_it(tmp_path):
    first = PortalConfig.from_env({}, var_dir=tmp_path / "portal")
    assert first.database_url == f"sqlite:///{tmp_path / 'portal' / 'portal.db'}"
    assert first.auto_migrate is True
    assert first.secure_cookies is True
    assert len(first.secret_key) >= 32
    key_file = tmp_path / "portal" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert PortalConfig.from_env({}, var_dir=tmp_path / "portal").secret_key == first.secret_key
    assert first.secret_key not in repr(first)


def test_a_database_url_needs_a_secret_key(tmp_path):
    env = {"YC_PORTAL_DATABASE_URL": "postgresql+psycopg://portal:pw@db/portal"}
    with pytest.raises(ConfigurationError, match="YC_PORTAL_SECRET_KEY is required"):
        PortalConfig.from_env(env, var_dir=tmp_path)
    config = PortalConfig.from_env({**env, "YC_PORTAL_SECRET_KEY": "k" * 32}, var_dir=tmp_path)
    assert config.auto_migrate is False
    assert config.backend is None
    assert "pw" not in repr(config)


def test_plain_http_and_numbers_come_from_the_environment(tmp_path):
    config = PortalConfig.from_env(
        {
            "YC_PORTAL_PLAIN_HTTP": "1",
            "YC_PORTAL_MAX_FAILED_SIGN_INS": "3",
            "YC_PORTAL_REMEMBER_DAYS": "7",
            "YC_PORTAL_SMTP_HOST": "mail.example.org",
        },
        var_dir=tmp_path,
    )
    assert config.secure_cookies is False
    assert config.max_failed_sign_ins == 3
    assert config.remember_days == 7
    assert config.smtp_host == "mail.example.org"
    assert PortalConfig.from_env({}, var_dir=tmp_path).remember_days == 30
    with pytest.raises(
        ConfigurationError, match="YC_PORTAL_SIGN_IN_WINDOW_SECONDS must be an integer"
    ):
        PortalConfig.from_env({"YC_PORTAL_SIGN_IN_WINDOW_SECONDS": "soon"}, var_dir=tmp_path)


def test_the_api_url_comes_from_the_environment_for_agent_configs(tmp_path):
    assert PortalConfig.from_env({}, var_dir=tmp_path).api_url is None
    config = PortalConfig.from_env({"YC_API_URL": "https://api.example.org/v1"}, var_dir=tmp_path)
    assert config.api_url == "https://api.example.org/v1"


def test_the_s3_endpoint_for_agent_configs_is_named_only_for_a_cloud_that_has_one(tmp_path):
    assert PortalConfig.from_env({}, var_dir=tmp_path).s3_endpoint is None
    env = {"YC_S3_ENDPOINT_URL": "https://s3.example.org"}
    assert PortalConfig.from_env(env, var_dir=tmp_path).s3_endpoint == "https://s3.example.org"
