from pathlib import Path

import pytest

from recon_image.errors import EXIT_INTERNAL
from recon_image.settings import (
    BUILTIN_MODES_DIR,
    DEFAULT_WISDOM,
    ProgramSettings,
    SettingsError,
    WorkerSettings,
)

CONTRACT = {
    "YC_TASK_UUID": "5f0c8c1e-3c1a-4d7e-9a57-2a4c7c1d9e10",
    "YC_USER": "alice",
    "YC_INPUT": "s3://in-bucket/alice/5f0c8c1e-3c1a-4d7e-9a57-2a4c7c1d9e10/",
    "YC_OUTPUT": "s3://out-bucket/alice/5f0c8c1e-3c1a-4d7e-9a57-2a4c7c1d9e10",
    "YC_MODE": "yc_cartesian",
    "YC_PARAM": "12",
    "YC_VCPUS": "8",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "SENTRY_DSN": "http://key@127.0.0.1:9/1",
    "PATH": "/usr/bin",
}


def test_the_worker_contract_is_read_into_typed_settings() -> None:
    settings = WorkerSettings.from_env(CONTRACT)

    assert settings.input.bucket == "in-bucket"
    assert settings.output.key("manifest.json") == (
        "alice/5f0c8c1e-3c1a-4d7e-9a57-2a4c7c1d9e10/manifest.json"
    )
    assert (settings.mode, settings.param, settings.vcpus) == ("yc_cartesian", "12", 8)
    assert settings.modes_dir == BUILTIN_MODES_DIR
    assert settings.work_dir is None
    assert settings.fftw_wisdom == DEFAULT_WISDOM
    assert settings.sentry_dsn == "http://key@127.0.0.1:9/1"


def test_a_modes_program_never_sees_the_storage_keys_or_the_sentry_dsn() -> None:
    step_env = WorkerSettings.from_env(CONTRACT).step_env

    assert "AWS_SECRET_ACCESS_KEY" not in step_env
    assert "SENTRY_DSN" not in step_env
    assert step_env["PATH"] == "/usr/bin"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("YC_OUTPUT", "", "started without YC_OUTPUT"),
        ("YC_INPUT", "/local/path", "not an s3://bucket/prefix/ location"),
        ("YC_VCPUS", "two", "YC_VCPUS='two' is not a whole number"),
        ("YC_VCPUS", "0", "must be at least 1"),
    ],
)
def test_a_missing_or_bad_setting_is_a_deployment_fault(name: str, value: str, message: str):
    with pytest.raises(SettingsError, match=message) as info:
        WorkerSettings.from_env({**CONTRACT, name: value})

    assert info.value.exit_code == EXIT_INTERNAL


def test_a_program_takes_threads_wisdom_and_error_file_from_the_runner() -> None:
    settings = ProgramSettings.from_env(
        {"OMP_NUM_THREADS": "4", "YC_FFTW_WISDOM": "/w", "YC_ERROR_FILE": "/e.json"}
    )

    assert settings == ProgramSettings(
        threads=4, fftw_wisdom=Path("/w"), error_file=Path("/e.json")
    )
    assert ProgramSettings.from_env({}) == ProgramSettings(1, DEFAULT_WISDOM, None)
