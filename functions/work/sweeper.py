"""The sweeper's work: expire abandoned uploads, reconcile tasks with Batch, measure waiting."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sentry_sdk

from contracts.task_status import Status
from functions.core.aws import AwsClients
from functions.core.clock import Clock, system_clock
from functions.core.keys import task_prefix
from functions.core.models import Task
from functions.core.settings import Settings
from functions.core.task_store import advance, fail
from functions.work.job_state import JobUpdater
from functions.work.submit import Submitter, find_job

logger = logging.getLogger(__name__)

IN_BATCH = (Status.SUBMITTED, Status.PENDING, Status.RUNNABLE, Status.STARTING, Status.RUNNING)
WAITING = (Status.SUBMITTED, Status.RUNNABLE)
DESCRIBE_LIMIT = 100


@dataclass
class SweepReport:
    expired: list[str] = field(default_factory=list)
    reconciled: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    resubmitted: list[str] = field(default_factory=list)
    oldest_waiting_seconds: float = 0.0
    oldest_runnable_seconds: float = 0.0


@dataclass
class Sweeper:
    settings: Settings
    clients: AwsClients
    clock: Clock = system_clock

    def sweep(self) -> SweepReport:
        report = SweepReport()
        now = self.clock()
        self._expire_uploads(now, report)
        self._reconcile(now, report)
        measured_at = self.clock()
        report.oldest_waiting_seconds = self.oldest_waiting_seconds(measured_at)
        report.oldest_runnable_seconds = self.oldest_waiting_seconds(
            measured_at, statuses=(Status.RUNNABLE,)
        )
        return report

    def _stale(self, status: Status, before: float) -> Iterator[Task]:
        return Task.open_index.query(status.value, Task.touched_at < before)

    def _expire_uploads(self, now: float, report: SweepReport) -> None:
        cutoff = now - self.settings.upload_expiry_seconds
        hours = self.settings.upload_expiry_seconds / 3600
        for task in self._stale(Status.UPLOADING, cutoff):
            expired = advance(
                task,
                Status.EXPIRED,
                now=now,
                actions=[
                    Task.error.set(
                        f"the upload was not completed within {hours:g} h, so its files were"
                        " deleted; the Yarra client can send the scan again as a new task"
                    )
                ],
                condition=Task.touched_at < cutoff,
            )
            if expired:
                self._delete_uploads(task)
                report.expired.append(task.task_id)
                logger.info(
                    "upload expired", extra={"task_id": task.task_id, "site_id": task.site_id}
                )

    def _delete_uploads(self, task: Task) -> None:
        s3 = self.clients.s3
        bucket = self.settings.in_bucket
        prefix = task_prefix(task.user_name, task.task_id)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objects:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
        uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])
        for upload in uploads:
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])

    def _reconcile(self, now: float, report: SweepReport) -> None:
        cutoff = now - self.settings.reconcile_after_seconds
        updater = JobUpdater(self.settings, self.clients, clock=self.clock)
        with_job: dict[str, Task] = {}
        for status in IN_BATCH:
            for task in self._stale(status, cutoff):
                if task.job_id:
                    with_job[task.job_id] = task
                elif status is Status.SUBMITTED:
                    try:
                        self._finish_interrupted(task, updater, report)
                    except Exception as exc:  # one bad task must not stop the sweep
                        sentry_sdk.capture_exception(exc)
                        logger.exception(
                            "recovering an interrupted submission failed",
                            extra={"task_id": task.task_id},
                        )
        ids = list(with_job)
        for start in range(0, len(ids), DESCRIBE_LIMIT):
            chunk = ids[start : start + DESCRIBE_LIMIT]
            jobs = self.clients.batch.describe_jobs(jobs=chunk)["jobs"]
            for job in jobs:
                if updater.apply(job).action in ("moved", "finished"):
                    report.reconciled.append(with_job[job["jobId"]].task_id)
            for job_id in set(chunk) - {job["jobId"] for job in jobs}:
                task = with_job[job_id]
                if fail(
                    task,
                    "the compute service lost this task's job; the Yarra client can"
                    " send the scan again",
                    now=now,
                    condition=Task.job_id == job_id,
                ):
                    report.lost.append(task.task_id)

    def _finish_interrupted(self, task: Task, updater: JobUpdater, report: SweepReport) -> None:
        job = self._find_job(task)
        if job is not None:
            updater.apply(job)
            report.reconciled.append(task.task_id)
            return
        Submitter(self.settings, self.clients, clock=self.clock).recover(task)
        report.resubmitted.append(task.task_id)

    def _find_job(self, task: Task) -> dict[str, Any] | None:
        summary = find_job(self.clients.batch, task.job_queue, task.task_id)
        if summary is None:
            return None
        jobs = self.clients.batch.describe_jobs(jobs=[summary["jobId"]])["jobs"]
        return jobs[0] if jobs else None

    def oldest_waiting_seconds(self, now: float, statuses: tuple[Status, ...] = WAITING) -> float:
        """Age of the oldest task waiting in one of ``statuses`` (0 when none).

        By default ``SUBMITTED`` or ``RUNNABLE``; ``RUNNABLE`` alone measures how long
        Batch has not found an instance for a job.
        """
        oldest = 0.0
        for status in statuses:
            for task in Task.open_index.query(status.value, scan_index_forward=True, limit=1):
                oldest = max(oldest, now - float(task.touched_at))
        return oldest
