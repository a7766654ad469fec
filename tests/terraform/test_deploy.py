"""scripts/deploy: the Lambda package it builds and the steps of a dry run."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

import scripts.deploy as deploy
from recon_image.modes.catalog import client_configs
from recon_image.settings import BUILTIN_MODES_DIR


def test_the_package_holds_every_handler_and_is_reproducible(tmp_path: Path):
    first = deploy.build_lambda_zip(tmp_path / "a" / "functions.zip", [], run=None)
    second = deploy.build_lambda_zip(tmp_path / "b" / "functions.zip", [], run=None)
    names = set(zipfile.ZipFile(first).namelist())
    for handler in ("api", "submit", "job_state", "sweeper", "billing_outbox"):
        assert f"functions/handlers/{handler}.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert first.read_bytes() == second.read_bytes()


def test_the_dependencies_are_the_functions_extra_for_lambdas_platform(tmp_path: Path):
    commands = []
    deploy.build_lambda_zip(tmp_path / "functions.zip", ["pynamodb==6.1.0"], commands.append)
    (command,) = commands
    assert command[-1] == "pynamodb==6.1.0"
    assert "manylinux2014_x86_64" in command and "3.11" in command
    assert any(r.startswith("aws-lambda-powertools") for r in deploy.pinned_requirements())


def test_a_dry_run_prints_the_image_terraform_and_mode_steps(tmp_path, monkeypatch):
    monkeypatch.setattr(deploy, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(deploy, "pinned_requirements", lambda: [])
    monkeypatch.setattr(deploy, "container_engine", lambda: None)
    said: list[str] = []
    deploy.Deployer("eu-central-1", dry_run=True, say=said.append, tag="abc123").deploy()
    text = "\n".join(said)
    assert "init -input=false -backend-config=backend.hcl" in text
    assert "docker build -f recon_image/Dockerfile" in text
    assert ":abc123" in text and "docker push" in text
    assert said[-2].endswith("-var=worker_image_tag=abc123")
    assert said[-1] == "Would publish {} modes: {}".format(
        len(client_configs(BUILTIN_MODES_DIR)), ", ".join(sorted(client_configs(BUILTIN_MODES_DIR)))
    )
    assert (tmp_path / "functions.zip").is_file()


def test_an_unknown_region_is_refused_with_the_known_ones(capsys):
    assert deploy.main(["mars-north-1", "--dry-run"]) == 1
    error = capsys.readouterr().err
    assert "no Terraform root for mars-north-1" in error and "eu-central-1" in error


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_the_image_is_pushed_to_the_regions_repository(engine: str):
    steps = deploy.image_steps(
        engine, "1.dkr.ecr.eu-central-1.amazonaws.com/yc/w", "t", "eu-central-1"
    )
    assert steps[0][-1].endswith("--password-stdin 1.dkr.ecr.eu-central-1.amazonaws.com")
    assert steps[-1] == [engine, "push", "1.dkr.ecr.eu-central-1.amazonaws.com/yc/w:t"]
