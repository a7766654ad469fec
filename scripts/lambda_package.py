"""Which of our modules the Lambda package carries: what the handlers import, and no more.

A handler is a module of ``functions/handlers/`` that defines ``lambda_handler``, the
name Terraform gives every function (``functions.handlers.<name>.lambda_handler``). The
package holds those modules and every module of ours they import, followed through
each import and including the packages that hold them; the portal's service layer
(``administration/``), the OpenAPI generator and anything else no handler imports stay
out. Third-party modules come from the ``functions`` extra instead.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

HANDLERS = "functions.handlers"
ENTRY = "lambda_handler"


def module_file(name: str, root: Path) -> Path | None:
    """The source file of the dotted module ``name`` under ``root``, or None."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def handler_modules(root: Path) -> list[str]:
    """The modules of ``functions/handlers`` that define ``lambda_handler``."""
    folder = root.joinpath(*HANDLERS.split("."))
    return [
        f"{HANDLERS}.{path.stem}"
        for path in sorted(folder.glob("*.py"))
        if ENTRY in top_level_names(ast.parse(path.read_text()))
    ]


def top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return names


def imported_modules(path: Path, name: str) -> Iterator[str]:
    """Every module name an import statement of ``path`` (module ``name``) may load.

    ``from a.b import c`` yields ``a.b`` and ``a.b.c``, since ``c`` may be a submodule;
    names that are no module are dropped by the caller.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_closure(modules: Iterable[str], root: Path) -> set[str]:
    """Our modules that importing ``modules`` loads, the packages holding them included.

    Ours are those with a source file under ``root``; third-party ones are left out.
    """
    found: set[str] = set()
    unread = list(modules)
    while unread:
        name = unread.pop()
        if name in found:
            continue
        path = module_file(name, root)
        if path is None:
            continue
        found.add(name)
        parent = name.rpartition(".")[0]
        if parent:
            unread.append(parent)
        unread.extend(imported_modules(path, name))
    return found


def package_files(root: Path) -> list[tuple[Path, str]]:
    """``(source file, name in the zip)`` for every module the handlers need, sorted."""
    files = [module_file(name, root) for name in import_closure(handler_modules(root), root)]
    return sorted((path, path.relative_to(root).as_posix()) for path in files)
