"""The Lambda package carries what the Terraform-declared handlers import, and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import scripts.deploy as deploy
from scripts.lambda_package import handler_modules, import_closure
from tests.helpers.lambda_package import declared_functions


def terraform_handlers() -> set[str]:
    """The handler modules Terraform declares (``functions.handlers.<key>``)."""
    return {handler.rpartition(".")[0] for handler in declared_functions().handlers.values()}


def loaded_by_importing(modules: set[str]) -> set[str]:
    """Our modules a fresh interpreter has loaded after importing ``modules``.

    Each must define a callable ``lambda_handler``, as Lambda calls it.
    """
    program = (
        "import importlib, json, sys\n"
        "from pathlib import Path\n"
        "for name in sys.argv[1:]:\n"
        "    assert callable(importlib.import_module(name).lambda_handler), name\n"
        "root, environment = Path.cwd().resolve(), Path(sys.prefix).resolve()\n"
        "files = {n: Path(m.__file__).resolve() for n, m in list(sys.modules.items())\n"
        "         if getattr(m, '__file__', None)}\n"
        "print(json.dumps(sorted(n for n, f in files.items()\n"
        "    if f.is_relative_to(root) and not f.is_relative_to(environment))))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", program, *sorted(modules)],
        cwd=deploy.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    return set(json.loads(ran.stdout))


def zipped_modules(package: Path) -> set[str]:
    names = zipfile.ZipFile(package).namelist()
    assert all(name.endswith(".py") for name in names), "only Python modules, no data files"
    return {name.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for name in names}


def test_the_package_holds_the_import_closure_of_every_terraform_declared_handler(tmp_path):
    handlers = terraform_handlers()
    assert handlers >= {"functions.handlers.api", "functions.handlers.submit"}
    assert set(handler_modules(deploy.REPO_ROOT)) == handlers

    package = deploy.build_lambda_zip(tmp_path / "functions.zip", [], run=None)

    packaged = zipped_modules(package)
    assert packaged == loaded_by_importing(handlers)
    assert {name.split(".")[0] for name in packaged} == {"functions", "contracts"}
    for left_out in ("functions.work.api.openapi", "functions.billing.webhooks"):
        assert left_out not in packaged


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_the_closure_follows_relative_and_submodule_imports_and_leaves_the_rest(tmp_path):
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/handlers/__init__.py": "",
            "app/handlers/one.py": "from ..work import job\nimport json\nlambda_handler = 1\n",
            "app/handlers/helper.py": "X = 1\n",
            "app/work/__init__.py": "",
            "app/work/job.py": "from app.core import model\n",
            "app/core/__init__.py": "",
            "app/core/model.py": "from leaf.names import NAMES\n",
            "app/core/unused.py": "",
            "leaf/__init__.py": "",
            "leaf/names.py": "NAMES = ()\n",
            "portal/__init__.py": "from app.core import unused\n",
        },
    )
    assert import_closure(["app.handlers.one"], tmp_path) == {
        "app",
        "app.handlers",
        "app.handlers.one",
        "app.work",
        "app.work.job",
        "app.core",
        "app.core.model",
        "leaf",
        "leaf.names",
    }
