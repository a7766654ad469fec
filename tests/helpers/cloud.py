"""Working a LocalCloud from a test: uploads as a client makes them, and what Batch holds."""

from __future__ import annotations

from functions.core.models import UsageRecord
from functions.work.submit import job_name
from scripts.local_cloud.cloud import LocalCloud

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


def drain(cloud: LocalCloud, queue: str = "submit") -> None:
    """Deliver every pending message of ``queue`` to its handler."""
    while cloud.pollers[queue].poll_once():
        pass


def jobs_of(cloud: LocalCloud, task_id: str) -> list[dict]:
    """The Batch jobs submitted for a task, in either job queue."""
    found = []
    for queue in (cloud.settings.job_queue_spot, cloud.settings.job_queue_on_demand):
        found += cloud.clients.batch.list_jobs(
            jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [job_name(task_id)]}]
        )["jobSummaryList"]
    return found


def usage_of(task_id: str) -> list[UsageRecord]:
    return [u for u in UsageRecord.scan() if u.task_id == task_id]
