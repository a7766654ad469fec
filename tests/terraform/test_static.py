"""Fast checks: formatting, validation of each root, and one resolution of resources.json."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scripts.local_cloud.resources import Deployment, Resources
from tests.terraform.terraform_cli import (
    EMULATOR_SWITCHES,
    ROOTS,
    TERRAFORM_DIR,
    copy_terraform,
    make_terraform,
)


def test_terraform_files_are_formatted(terraform_cli):
    binary, _ = terraform_cli
    result = subprocess.run(
        [binary, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{result.stdout}"


@pytest.mark.parametrize("root", ROOTS)
def test_each_root_validates(terraform_cli, tmp_path: Path, root: str):
    binary, mirror = terraform_cli
    terraform = make_terraform(binary, mirror, copy_terraform(tmp_path), root)
    terraform.init(backend=False)
    result = terraform.run("validate", "-no-color", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_region_roots_differ_only_in_their_settings():
    first, second = (TERRAFORM_DIR / "regions" / r for r in ("us-east-1", "eu-central-1"))
    names = {p.name for p in first.glob("*.tf")}
    assert names == {p.name for p in second.glob("*.tf")}
    for name in names:
        assert (first / name).read_text() == (second / name).read_text(), name


def test_terraform_resolves_resources_json_as_the_local_cloud_does(terraform_cli, tmp_path):
    binary, mirror = terraform_cli
    copy = copy_terraform(tmp_path)
    probe = copy / "probe"
    probe.mkdir()
    (probe / "main.tf").write_text(
        'module "d" {\n  source = "../modules/description"\n  prefix = "yc"\n'
        '  region = "eu-central-1"\n  account = "210987654321"\n}\n'
        'output "resolved" {\n  value = module.d.resources\n}\n'
    )
    terraform = make_terraform(binary, mirror, copy, "probe")
    terraform.run("init", "-input=false", "-no-color")
    terraform.run("apply", "-auto-approve", "-no-color")
    resolved = json.loads(terraform.run("output", "-json", "resolved").stdout)

    expected = Resources(Deployment("yc", "eu-central-1", "210987654321"))
    assert resolved == expected.resolve(expected.raw)
    shutil.rmtree(probe / ".terraform", ignore_errors=True)


@pytest.mark.parametrize("switch", sorted(EMULATOR_SWITCHES))
def test_every_emulator_switch_defaults_to_the_production_value(switch: str):
    for region in ("us-east-1", "eu-central-1"):
        text = (TERRAFORM_DIR / "regions" / region / "variables.tf").read_text()
        block = re.search(rf'variable "{switch}" \{{(.*?)\n\}}', text, flags=re.DOTALL)
        assert block is not None, f"{region} has no variable {switch}"
        assert re.search(r"default\s*=\s*true", block.group(1)), f"{switch} must default to true"
        assert "emulator" in block.group(1).lower(), f"{switch} must say why it exists"
