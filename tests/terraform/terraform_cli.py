"""Running Terraform from the tests: the binary, the local provider mirror, a copy of terraform/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.unavailable import unavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "terraform"
REGION_ROOT = "region"
GLOBAL_ROOT = "global"
REGIONS = tuple(sorted(p.stem for p in (TERRAFORM_DIR / REGION_ROOT).glob("*.tfvars")))
"""Every region the region root is applied to: one ``<region>.tfvars`` each."""
MIRROR_CANDIDATES = ("/opt/tf-plugins", "~/.terraform.d/plugins", "/usr/share/terraform/plugins")

EMULATOR_OVERRIDES = Path(__file__).resolve().parent / "emulator"
"""The override files that point a root at the emulator (local state, emulator switches)."""
THROWAWAY = {"deletion_protection": "false", "force_destroy_buckets": "true"}
"""A stack the test destroys again."""


def plugin_dir() -> Path | None:
    """The folder holding ``registry.terraform.io/hashicorp/aws/...``, if any is installed."""
    candidates = [os.environ.get("YC_TF_PLUGIN_DIR", ""), *MIRROR_CANDIDATES]
    for candidate in filter(None, candidates):
        root = Path(candidate).expanduser()
        if not root.is_dir():
            continue
        for found in sorted(root.glob("**/terraform-provider-aws*")):
            for parent in found.parents:
                if parent.name == "registry.terraform.io":
                    return parent.parent
    return None


def require_terraform() -> tuple[str, Path]:
    """Terraform's path and the provider mirror; skips (fails in CI) when either is missing."""
    binary = shutil.which("terraform")
    mirror = plugin_dir()
    missing = []
    if binary is None:
        missing.append("the terraform command (Terraform 1.11 or later) on PATH")
    if mirror is None:
        missing.append(
            "the AWS provider (a terraform-provider-aws* file under "
            + ", ".join(MIRROR_CANDIDATES)
            + " or $YC_TF_PLUGIN_DIR)"
        )
    if missing:
        message = "Terraform tests need " + " and ".join(missing)
        if binary is None:
            pytest.skip(message)  # no Debian package: a machine may lack Terraform, CI included
        unavailable(message)
    return binary, mirror


class TerraformError(RuntimeError):
    pass


@dataclass
class Terraform:
    """One root of a private copy of ``terraform/``, with local state and no downloads."""

    binary: str
    mirror: Path
    root: Path
    env: dict[str, str]
    region: str | None = None
    """The region this run of the region root deploys; None for the global root."""

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.binary, *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if check and result.returncode != 0:
            raise TerraformError(
                f"terraform {' '.join(args[:1])} in {self.root.name} failed"
                f" ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result

    def init(self, backend: bool = True) -> None:
        args = ["init", "-input=false", "-no-color", f"-plugin-dir={self.mirror}"]
        if not backend:
            args.append("-backend=false")
        elif self.region:
            args.append(f"-backend-config=path={self.region}.tfstate")
        self.run(*args)

    def variables(self, values: Mapping[str, str] = ()) -> list[str]:
        """The arguments that set the root's variables: the region's file, then ``values``."""
        files = [f"-var-file={self.region}.tfvars"] if self.region else []
        return [*files, *(f"-var={name}={value}" for name, value in dict(values).items())]

    def show_json(self, plan_file: str) -> dict[str, Any]:
        return json.loads(self.run("show", "-json", plan_file).stdout)


def copy_terraform(destination: Path) -> Path:
    """A copy of ``terraform/`` (without any local .terraform folders) under ``destination``."""
    target = destination / "terraform"
    shutil.copytree(
        TERRAFORM_DIR, target, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*")
    )
    return target


def use_emulator(copy: Path, root: str) -> None:
    """Put the emulator's override files into ``root`` of a copy of ``terraform/``."""
    names = ["emulator_override.tf"]
    if root == REGION_ROOT:
        names.append("switches_override.tf")
    for name in names:
        shutil.copy(EMULATOR_OVERRIDES / name, copy / root / name)


def make_terraform(
    binary: str,
    mirror: Path,
    copy: Path,
    root: str,
    extra_env: Mapping[str, str] = (),
    region: str | None = None,
) -> Terraform:
    """Terraform in ``root`` of ``copy``; for the region root, one region's own data and state.

    Each region's run keeps its working data (backend, modules) in ``.terraform/<region>``,
    as scripts/deploy does, so two regions share the root's folder and nothing else.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(copy.parent),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        **dict(extra_env),
    }
    if region:
        env["TF_DATA_DIR"] = f".terraform/{region}"
    cli_config = copy.parent / "terraformrc"
    cli_config.touch()
    env["TF_CLI_CONFIG_FILE"] = str(cli_config)
    return Terraform(binary=binary, mirror=mirror, root=copy / root, env=env, region=region)


def functions_zip(path: Path) -> Path:
    """A package of ``functions/`` (the emulator never runs it; scripts/deploy adds the deps)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for source in sorted((REPO_ROOT / "functions").rglob("*.py")):
            info = zipfile.ZipInfo(
                str(source.relative_to(REPO_ROOT)), date_time=(2020, 1, 1, 0, 0, 0)
            )
            archive.writestr(info, source.read_bytes())
    return path


def planned_resources(plan: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    """Every planned resource of ``resource_type`` in a ``terraform show -json`` plan."""
    found: list[dict[str, Any]] = []

    def walk(module: dict[str, Any]) -> None:
        found.extend(r for r in module.get("resources", []) if r["type"] == resource_type)
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan["planned_values"]["root_module"])
    return found


def _has_unknown(value: Any) -> bool:
    if value is True:
        return True
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return False


def changed_attributes(change: dict[str, Any]) -> list[str]:
    """Top-level attributes a planned update changes to a value known before applying.

    An attribute that becomes (partly) unknown follows from another change, which is
    reported itself.
    """
    before, after = change["before"] or {}, change["after"] or {}
    unknown = change.get("after_unknown") or {}
    return sorted(
        key
        for key in set(before) | set(after)
        if before.get(key) != after.get(key) and not _has_unknown(unknown.get(key))
    )
