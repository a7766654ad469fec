"""The service layer stands between the domain and its two front ends, the portal and
``scripts/admin``: it needs the domain model, and neither a front end nor Flask."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_MODULES = sorted(
    f"administration.{path.stem}" for path in (REPO_ROOT / "administration").glob("[!_]*.py")
)


def top_level_packages_loaded(*modules: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after importing ``modules``."""
    program = (
        "import importlib, json, sys\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({name.partition('.')[0] for name in sys.modules})))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", program, *modules],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    return set(json.loads(ran.stdout))


def test_the_service_layer_needs_the_domain_model_and_no_front_end():
    assert "administration.site_users" in SERVICE_MODULES
    loaded = top_level_packages_loaded(*SERVICE_MODULES)
    assert {"administration", "functions"} <= loaded
    assert not loaded & {"portal_flask", "flask", "scripts", "agent", "recon_image"}
    assert not loaded & {"pydicom", "pynetdicom"}, "the connection tests run on the agent"


def test_the_operators_command_runs_without_the_portal():
    loaded = top_level_packages_loaded("scripts.admin")
    assert "administration" in loaded
    assert not loaded & {"portal_flask", "flask"}
