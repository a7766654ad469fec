"""One rule for a test whose tool or server is not installed: skip it on a developer's
machine, fail it in CI (``CI`` set), where every test must run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest


def unavailable(message: str) -> NoReturn:
    """Skip with ``message`` outside CI; fail with it in CI."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require(present: bool, message: str) -> None:
    """Go on only where ``present``; otherwise :func:`unavailable`."""
    if not present:
        unavailable(message)


def require_file(path: Path, package: str) -> None:
    """A file that a Debian package installs (``/usr/bin/dciodvfy`` from dicom3tools, say)."""
    require(path.exists(), f"{path} is missing: install the Debian package {package}")


def require_command(name: str, package: str) -> str:
    """A command on PATH that a Debian package installs; returns its path."""
    found = shutil.which(name)
    require(
        found is not None, f"the {name} command is missing: install the Debian package {package}"
    )
    return str(found)
