"""Servers for the tests: one AWS emulator per session, a fresh local cloud per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.local_cloud.cloud import INSPECT_JOB, LocalCloud
from scripts.local_cloud.emulator import Emulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def make_cloud(emulator: Emulator, tmp_path: Path) -> Iterator:
    """Builds a started LocalCloud on a freshly reset emulator; stops it after the test."""
    started: list[LocalCloud] = []

    def make(**options) -> LocalCloud:
        emulator.reset()
        options.setdefault("worker_command", INSPECT_JOB)
        cloud = LocalCloud(endpoint=emulator.endpoint, work_dir=tmp_path / "cloud", **options)
        started.append(cloud)
        return cloud.start()

    yield make
    for cloud in started:
        cloud.stop()
