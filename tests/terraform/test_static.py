"""Fast checks: formatting, validation of each root, the regions' files, the modules' files,
the emulator switches, and one resolution of resources.json."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from scripts.local_cloud.resources import Deployment, Resources
from tests.terraform.terraform_cli import (
    EMULATOR_OVERRIDES,
    GLOBAL_ROOT,
    REGION_ROOT,
    REGIONS,
    TERRAFORM_DIR,
    copy_terraform,
    make_terraform,
    use_emulator,
)

MODULES = sorted(p for p in (TERRAFORM_DIR / "modules").iterdir() if p.is_dir())


def test_terraform_files_are_formatted(terraform_cli):
    binary, _ = terraform_cli
    for folder in (TERRAFORM_DIR, EMULATOR_OVERRIDES):
        result = subprocess.run(
            [binary, "fmt", "-check", "-recursive", "-diff", str(folder)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"run `terraform fmt -recursive {folder}`:\n{result.stdout}"


@pytest.mark.parametrize("emulator", [False, True], ids=["as-deployed", "emulator-override"])
@pytest.mark.parametrize("root", [REGION_ROOT, GLOBAL_ROOT])
def test_each_root_validates(terraform_cli, tmp_path: Path, root: str, emulator: bool):
    binary, mirror = terraform_cli
    copy = copy_terraform(tmp_path)
    if emulator:
        use_emulator(copy, root)
    terraform = make_terraform(binary, mirror, copy, root)
    terraform.init(backend=False)
    result = terraform.run("validate", "-no-color", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def hcl_string(path: Path, name: str) -> str | None:
    """The string a ``.tfvars`` or ``.hcl`` file gives ``name`` at the top level, if any."""
    found = re.search(rf'^{name}\s*=\s*"([^"]*)"', path.read_text(), flags=re.MULTILINE)
    return found.group(1) if found else None


def test_each_region_is_a_variables_file_and_a_backend_file_of_its_own():
    root = TERRAFORM_DIR / REGION_ROOT
    assert {"us-east-1", "eu-central-1"} <= set(REGIONS)
    backends = {p.name.removesuffix(".backend.hcl") for p in root.glob("*.backend.hcl")}
    assert backends == set(REGIONS), "each <region>.tfvars needs its <region>.backend.hcl"
    for region in REGIONS:
        assert hcl_string(root / f"{region}.tfvars", "region") == region
        assert hcl_string(root / f"{region}.backend.hcl", "key") == f"regions/{region}.tfstate"
    hosts = [
        r
        for r in REGIONS
        if re.search(r"^portal\s*=\s*true", (root / f"{r}.tfvars").read_text(), re.M)
    ]
    assert len(hosts) == 1, f"one region hosts the portal, not {hosts}"


def test_a_region_is_added_as_the_readme_shows_and_the_global_root_covers_it(
    terraform_cli, tmp_path: Path
):
    binary, mirror = terraform_cli
    readme = (TERRAFORM_DIR.parent / "README.md").read_text()
    (block,) = re.findall(r"Adding a region is adding.*?```\n(.*?)```", readme, re.S)
    commands = textwrap.dedent(block)
    copy = copy_terraform(tmp_path)
    subprocess.run(["bash", "-euc", commands], cwd=copy.parent, check=True, timeout=60)

    root = copy / REGION_ROOT
    assert hcl_string(root / "ap-southeast-2.tfvars", "region") == "ap-southeast-2"
    assert "10.42.0.0/16" in (root / "ap-southeast-2.tfvars").read_text()
    assert (
        hcl_string(root / "ap-southeast-2.backend.hcl", "key") == "regions/ap-southeast-2.tfstate"
    )
    use_emulator(copy, GLOBAL_ROOT)
    offline = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    terraform = make_terraform(binary, mirror, copy, GLOBAL_ROOT, offline)
    terraform.init()
    console = subprocess.run(
        [binary, "console", "-no-color"],
        input="jsonencode(local.regions)\n",
        cwd=terraform.root,
        env=terraform.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert console.returncode == 0, console.stderr
    assert json.loads(json.loads(console.stdout)) == ["ap-southeast-2", "eu-central-1", "us-east-1"]


def test_the_roots_have_no_emulator_settings():
    for root in (REGION_ROOT, GLOBAL_ROOT):
        text = "".join(p.read_text() for p in (TERRAFORM_DIR / root).glob("*.tf")).lower()
        assert "emulator" not in text and "endpoint" not in text, root


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


def variable_blocks(path: Path) -> dict[str, str]:
    """``variable`` name => the block's body, of one ``variables.tf``."""
    return dict(re.findall(r'^variable "(\w+)" \{(.*?)^\}', path.read_text(), re.M | re.S))


def test_each_emulator_switch_defaults_to_production_and_only_the_override_turns_it_off():
    stack = variable_blocks(TERRAFORM_DIR / "modules" / "stack" / "variables.tf")
    switches = {name for name, body in stack.items() if "emulator switch" in body}
    assert switches == {
        "enforce_tls",
        "sqs_event_source_mappings",
        "api_account_logging_role",
        "schedule_targets",
    }
    for switch in switches:
        assert re.search(r"default\s*=\s*true", stack[switch]), f"{switch} must default to true"
    override = (EMULATOR_OVERRIDES / "switches_override.tf").read_text()
    assert dict(re.findall(r"^\s+(\w+)\s*=\s*(\w+)$", override, re.M)) == dict.fromkeys(
        switches, "false"
    )
    root = (TERRAFORM_DIR / REGION_ROOT / "main.tf").read_text()
    assert not [switch for switch in switches if switch in root]


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_every_module_states_its_versions_and_has_a_readme_naming_its_interface(module: Path):
    versions = (module / "versions.tf").read_text()
    assert 'required_version = ">= 1.11"' in versions
    uses_aws = re.search(r'^(resource|data) "aws_', (module / "main.tf").read_text(), re.M)
    assert ("hashicorp/aws" in versions) == bool(uses_aws)
    readme = (module / "README.md").read_text()
    interface = [*variable_blocks(module / "variables.tf")]
    interface += re.findall(r'^output "(\w+)"', (module / "outputs.tf").read_text(), re.M)
    assert [name for name in interface if f"`{name}`" not in readme] == []
