"""Simulated scans written as raw files in each supported format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scripts.phantoms.mrd import write_mrd
from scripts.phantoms.scan import SimulatedScan
from scripts.phantoms.twix_vb import write_vb
from scripts.phantoms.twix_ve import write_ve

WRITERS = {"ve": write_ve, "vb": write_vb, "mrd": write_mrd}
SUFFIX = {"ve": ".dat", "vb": ".dat", "mrd": ".h5"}


@pytest.fixture
def write_raw(tmp_path: Path) -> Callable[[str, SimulatedScan], Path]:
    """Writes a simulated scan in a format ("ve", "vb", "mrd") into the test's folder."""

    def write(fmt: str, scan: SimulatedScan) -> Path:
        path = tmp_path / f"scan_{fmt}{SUFFIX[fmt]}"
        return WRITERS[fmt](scan, path)

    return write
