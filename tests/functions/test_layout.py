"""The backend's layout: each handler's work under the handler's name, and the work and the
domain below the handlers, never importing them."""

from __future__ import annotations

from pathlib import Path

from scripts.lambda_package import handler_modules, imported_modules

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"


def test_each_handler_has_its_work_under_its_name_and_no_work_is_without_a_handler():
    handlers = {name.rpartition(".")[2] for name in handler_modules(ROOT)}
    modules = {path.stem for path in (FUNCTIONS / "work").glob("*.py")} - {"__init__"}
    packages = {path.parent.name for path in (FUNCTIONS / "work").glob("*/__init__.py")}
    work = modules | packages
    assert {"api", "submit", "job_state", "sweeper"} <= handlers
    assert work == handlers


def test_nothing_below_the_handlers_imports_them():
    upward = []
    for path in sorted(FUNCTIONS.rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        if relative.parts[1] == "handlers":
            continue
        name = ".".join(relative.parts).removesuffix(".__init__")
        upward += [
            f"{name} imports {imported}"
            for imported in imported_modules(path, name)
            if imported.startswith("functions.handlers")
        ]
    assert not upward, upward
