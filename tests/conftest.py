"""Servers for the tests: one AWS emulator per session, a fresh local cloud per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.local_cloud.cloud import INSPECT_JOB, LocalCloud
from scripts.local_cloud.emulator import Emulator
from scripts.local_cloud.seed import DEMO_MODE, publish_mode, seed_site


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


TASK_FILE = """[Task]
ReconMode={mode}
EMailNotification=
ScanFile={task_id}.dat
AdjustmentFilesCount=0
ScanProtocol=t1_demo
ReconName=Demo
ParamValue=0
UUID={task_id}
CreationTimeRAID=24/11/26  09:15:00
CreationTimeTask=24/11/26  09:16:00

[AdjustmentFiles]

[Information]
ScanFileSize={size}
SystemName=Demo
SystemVendor=Siemens
"""


def task_file_text(task_id: str, size: int, mode: str = "demo_fft") -> str:
    """A cloud-mode task file as the Yarra client writes it."""
    return TASK_FILE.format(task_id=task_id, size=size, mode=mode)


class Uploader:
    """Uploads a task's files the way a client does: raw files first, the task file last."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.s3 = cloud.clients.s3
        self.bucket = cloud.settings.in_bucket

    def raw(self, user: str, task_id: str, size: int = 4096, name: str | None = None) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=f"{user}/{task_id}/{name or task_id + '.dat'}",
            Body=bytes(i % 251 for i in range(size)),
        )

    def task_file(self, user: str, task_id: str, body: bytes | str) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.s3.put_object(Bucket=self.bucket, Key=f"{user}/{task_id}/{task_id}.task", Body=data)

    @staticmethod
    def text(task_id: str, size: int, mode: str = "demo_fft") -> str:
        return task_file_text(task_id, size, mode)

    def task(self, user: str, task_id: str, size: int = 4096, mode: str = "demo_fft") -> None:
        self.raw(user, task_id, size)
        self.task_file(user, task_id, task_file_text(task_id, size, mode))


@pytest.fixture
def seeded_cloud(make_cloud):
    """A cloud with site-a (users alice, bob; demo_fft enabled) and site-b (user carol)."""

    def make(**options) -> tuple[LocalCloud, Uploader]:
        cloud = make_cloud(**options)
        publish_mode(DEMO_MODE["mode_id"], DEMO_MODE["client_config"])
        publish_mode("retired_mode", {"Name": "Retired"}, disabled=True)
        seed_site(
            "site-a",
            "Site A",
            ["alice", "bob"],
            {"demo_fft": {"vcpus": 2, "memory_mib": 2048, "spot": True, "timeout_seconds": 600}},
        )
        seed_site("site-b", "Site B", ["carol"], {})
        return cloud, Uploader(cloud)

    return make
