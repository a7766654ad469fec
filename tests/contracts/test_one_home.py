"""Each contract two units share has one home, ``contracts/``, which imports nothing of ours."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "contracts"
UNITS = ("functions", "recon_image", "transfer", "agent", "portal_flask", "scripts")

USERS = {
    "contracts.yarra_ini": (
        "contracts/taskfile.py",
        "recon_image/modes/modefile.py",
        "scripts/admin.py",
    ),
    "contracts.taskfile": (
        "functions/core/taskfile.py",
        "functions/core/keys.py",
        "recon_image/worker.py",
        "agent/ort.py",
    ),
    "contracts.task_status": (
        "functions/core/status.py",
        "agent/pipeline.py",
        "portal_flask/tasks/presenting.py",
        "scripts/demo.py",
    ),
    "contracts.destination": (
        "functions/core/destinations.py",
        "agent/delivery/destination.py",
        "agent/delivery/dicom_store.py",
        "agent/delivery/folder.py",
    ),
    "contracts.atomic_write": (
        "transfer/journal.py",
        "transfer/download.py",
        "agent/journal.py",
        "agent/phi.py",
        "agent/cli.py",
        "agent/reidentify.py",
        "agent/deid/mrd.py",
        "agent/delivery/folder.py",
        "recon_image/pipeline/fft.py",
        "portal_flask/serve.py",
        "scripts/local_cloud/credentials.py",
    ),
    "contracts.phi_redaction": (
        "functions/core/observability.py",
        "agent/observability.py",
        "recon_image/worker.py",
    ),
}
"""Every contract, and the modules that once held a copy of it or now read it from its home."""

DEFINED_ONLY_IN_CONTRACTS = {
    "parse_yarra_ini",
    "parse_task_ini",
    "replace_file",
    "write_atomically",
    "sync_folder",
    "mentions_identity",
    "Status",
    "TaskFile",
    "RAW_SUFFIXES",
    "ENTRY_KEYS",
    "AE_TITLE_MAX",
    "_IDENTITY_FIELDS",
    "_CONTEXTUAL_FIELDS",
    "_IDENTITY_KEY",
}
"""Names whose definition outside ``contracts/`` would be a second copy of a contract."""


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            assert not node.level, f"{path}: relative import"
            found.add(node.module or "")
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def source_files() -> list[Path]:
    return [path for unit in UNITS for path in sorted((REPO / unit).rglob("*.py"))]


def test_the_contracts_import_only_the_standard_library_and_each_other() -> None:
    modules = sorted(CONTRACTS.glob("*.py"))
    assert {p.stem for p in modules} >= {name.split(".")[1] for name in USERS}
    for module in modules:
        for name in imported_modules(module):
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top in {"__future__", "contracts"}, (
                f"{module.name} imports {name}: the contracts must stay a leaf"
            )


def test_the_contracts_run_on_a_bare_python_with_nothing_else_installed(tmp_path: Path) -> None:
    shutil.copytree(CONTRACTS, tmp_path / "contracts", ignore=shutil.ignore_patterns("__pycache__"))
    imports = "; ".join(f"import {name}" for name in USERS)
    # -E: no PYTHONPATH; -s: no user site; -S: no site-packages. Only the standard
    # library and the working folder are on the path.
    done = subprocess.run(
        [sys.executable, "-E", "-s", "-S", "-c", imports],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("contract", "user"), [(c, u) for c, users in USERS.items() for u in users]
)
def test_each_user_reads_the_contract_from_its_home(contract: str, user: str) -> None:
    assert any(
        name == contract or name.startswith(contract + ".")
        for name in imported_modules(REPO / user)
    ), f"{user} does not import {contract}"


def test_no_unit_defines_a_second_copy_of_a_contract() -> None:
    copies = []
    for path in source_files():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
            else:
                continue
            copies += [
                f"{path.relative_to(REPO)}: {n}" for n in names if n in DEFINED_ONLY_IN_CONTRACTS
            ]
    assert not copies


def test_a_destination_outside_the_contract_extends_the_shared_record() -> None:
    from contracts.destination import Destination
    from functions.core.destinations import Destination as SiteDestination

    assert issubclass(SiteDestination, Destination)
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name == "Destination":
                assert path == REPO / "functions" / "core" / "destinations.py", path
