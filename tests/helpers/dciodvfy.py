"""dicom3tools' ``dciodvfy``, the independent check that a DICOM file is what its IOD requires."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.helpers.unavailable import require_file

DCIODVFY = Path("/usr/bin/dciodvfy")


def dciodvfy_errors(path: Path) -> list[str]:
    """The ``Error`` lines ``dciodvfy`` prints for ``path`` (skips or fails where it is missing)."""
    require_file(DCIODVFY, "dicom3tools")
    check = subprocess.run([str(DCIODVFY), str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (check.stdout + check.stderr).splitlines() if line.startswith("Error")]
