"""Applies what AWS Batch says about a job to its task: status, times, cost and usage.

The job description has the same shape whether it came in a "Batch Job State
Change" event or from ``DescribeJobs`` (the sweeper), so both use this module.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist

from contracts.task_status import ENDS, Status
from functions.billing.charges import charge_job
from functions.billing.metering import MeterEvent, TaskWrite, record_usage
from functions.core.aws import AwsClients
from functions.core.clock import Clock, month_of, system_clock
from functions.core.keys import FAILURE_FILE, normalise_task_id, task_prefix
from functions.core.models import Site, Task, UsageRecord
from functions.core.pricing import job_cost_micros
from functions.core.settings import Settings
from functions.core.task_store import advance, transition
from functions.work.submit import TAG_TASK

logger = logging.getLogger(__name__)

TIMEOUT_REASON = "Job attempt duration exceeded timeout"


@dataclass(frozen=True)
class JobUpdate:
    """What applying one job description did."""

    task_id: str | None
    action: str
    status: str | None = None
    cost_micros: int | None = None
    turnaround_seconds: float | None = None


def task_id_of(job: dict[str, Any]) -> str | None:
    """The task a job belongs to: its tag, else its name ``yc-{uuid}``."""
    tagged = (job.get("tags") or {}).get(TAG_TASK)
    if tagged:
        return normalise_task_id(tagged)
    name = job.get("jobName", "")
    return normalise_task_id(name[3:]) if name.startswith("yc-") else None


def run_seconds(job: dict[str, Any]) -> float:
    """Seconds the job's attempts held their instance, summed over attempts."""
    total = 0
    for attempt in job.get("attempts") or []:
        if attempt.get("startedAt") and attempt.get("stoppedAt"):
            total += max(0, attempt["stoppedAt"] - attempt["startedAt"])
    return total / 1000


@dataclass
class JobUpdater:
    settings: Settings
    clients: AwsClients
    clock: Clock = system_clock

    def apply(self, job: dict[str, Any]) -> JobUpdate:
        task_id = task_id_of(job)
        if task_id is None:
            return JobUpdate(None, "ignored")
        try:
            task = Task.get(task_id, consistent_read=True)
        except DoesNotExist:
            logger.warning("job state for an unknown task ignored", extra={"task_id": task_id})
            return JobUpdate(task_id, "ignored")
        job_id = job["jobId"]
        if task.job_id and task.job_id != job_id:
            logger.warning(
                "job state for a job the task does not track ignored",
                extra={"task_id": task_id, "job_id": job_id},
            )
            return JobUpdate(task_id, "ignored")
        try:
            status = Status(job["status"])
        except ValueError:
            return JobUpdate(task_id, "ignored")
        ours = Task.job_id.does_not_exist() | (Task.job_id == job_id)
        if status in (Status.SUCCEEDED, Status.FAILED):
            return self._finish(task, job, status, ours)
        if status is Status.SUBMITTED:
            if task.job_id is None and task.current_status is Status.SUBMITTED:
                task.update(actions=[Task.job_id.set(job_id)], condition=ours)
            return JobUpdate(task_id, "unchanged", task.status)
        moved = advance(
            task,
            status,
            now=self.clock(),
            actions=[Task.job_id.set(job_id), Task.attempts.set(len(job.get("attempts") or []))],
            condition=ours,
        )
        return JobUpdate(task_id, "moved" if moved else "unchanged", task.status)

    def _finish(self, task: Task, job: dict[str, Any], status: Status, ours: Any) -> JobUpdate:
        seconds = run_seconds(job)
        vcpus = float(task.vcpus or 0)
        memory_gib = float(task.memory_mib or 0) / 1024
        spot = bool(task.spot)
        charge = charge_job(job.get("attempts") or [], cancelled_at=_cancelled_at(task))
        cost = job_cost_micros(
            self.settings.rates,
            seconds=charge.charged_seconds,
            vcpus=vcpus,
            memory_gib=memory_gib,
            spot=spot,
        )
        stopped = _seconds(job.get("stoppedAt") or job.get("createdAt"))
        started = job.get("startedAt")
        exit_code = (job.get("container") or {}).get("exitCode")
        actions = [
            Task.job_id.set(job["jobId"]),
            Task.attempts.set(len(job.get("attempts") or [])),
            Task.stopped_at.set(stopped),
            Task.cost_micros.set(cost),
        ]
        if started:
            actions.append(Task.started_at.set(_seconds(started)))
        if exit_code is not None:
            actions.append(Task.exit_code.set(exit_code))
        if status is Status.FAILED:
            actions.append(Task.error.set(self._failure_reason(task, job)))
        usage = UsageRecord(
            job["jobId"],
            task_id=task.task_id,
            user_name=task.user_name,
            site_id=task.site_id,
            finished_at=stopped,
            month=month_of(stopped),
            status=status.value,
            seconds=seconds,
            vcpus=vcpus,
            memory_gib=memory_gib,
            spot=spot,
            attempts=len(job.get("attempts") or []),
            cost_micros=cost,
            currency=self.settings.rates.currency,
            charged_seconds=charge.charged_seconds,
            uncharged_seconds=charge.uncharged_seconds,
        )
        # One transaction: the usage, its rollups, its report for the outbox and the task's
        # final status. Nothing here talks to Stripe; the outbox alone sends the report.
        ended = task.current_status in ENDS
        recorded = record_usage(
            usage,
            region=self.settings.region,
            meter=self._meter_event(task, cost, stopped),
            task_write=_task_write(task, status, stopped, actions, cost, ours),
        )
        if not recorded and not ended:
            task.refresh(consistent_read=True)
            if task.current_status in ENDS:
                # A user cancelled the task since it was read: charged up to then.
                return self._finish(task, job, status, ours)
        if not recorded or ended:
            # Recorded before; another job's task; or an ended task that keeps its status.
            return JobUpdate(task.task_id, "unchanged", task.status)
        logger.info(
            "job finished",
            extra={
                "task_id": task.task_id,
                "site_id": task.site_id,
                "status": status.value,
                "cost_micros": cost,
            },
        )
        return JobUpdate(
            task.task_id,
            "finished",
            status.value,
            cost_micros=cost,
            turnaround_seconds=max(0.0, stopped - float(task.created_at)),
        )

    def _meter_event(self, task: Task, cost: int, stopped: float) -> MeterEvent | None:
        """The usage report for Stripe, when the task's site is billed through Stripe."""
        if cost <= 0:
            return None
        try:
            site = Site.get(task.site_id)
        except DoesNotExist:
            return None
        if site.billing_mode != "stripe":
            return None
        return MeterEvent(task.task_id, task.site_id, cost, int(stopped))

    def _failure_reason(self, task: Task, job: dict[str, Any]) -> str:
        """The worker's own words when it left them, else what Batch says, with what to do."""
        key = task_prefix(task.user_name, task.task_id) + FAILURE_FILE
        try:
            body = self.clients.s3.get_object(Bucket=self.settings.out_bucket, Key=key)["Body"]
            reason = json.loads(body.read(64 * 1024)).get("reason")
            if isinstance(reason, str) and reason.strip():
                return reason.strip()
        except ClientError:
            pass
        except ValueError:
            logger.warning("unreadable failure file", extra={"task_id": task.task_id})
        batch_reason = job.get("statusReason") or "the job failed"
        exit_code = (job.get("container") or {}).get("exitCode")
        if batch_reason.startswith(TIMEOUT_REASON):
            return (
                "the reconstruction ran longer than its limit of"
                f" {int(task.timeout_seconds or 0)} s and was stopped; the site administrator"
                " can raise the mode's timeout in the portal"
            )
        code = f" (exit code {exit_code})" if exit_code is not None else ""
        return (
            f"the reconstruction job failed: {batch_reason}{code}. The worker's log is with the"
            " task's results; resubmit once the cause is fixed, or contact support with the task"
            " id"
        )


def _task_write(
    task: Task, status: Status, stopped: float, actions: list[Any], cost: int, ours: Any
) -> TaskWrite:
    """The task's final status; or, when it already ended (cancelled), only its cost."""
    if task.current_status in ENDS:
        kept = (Task.status == task.status) & ours
        return TaskWrite(task, [Task.cost_micros.set(cost)], kept)
    return TaskWrite(task, *transition(task, status, now=stopped, actions=actions, condition=ours))


def _cancelled_at(task: Task) -> float | None:
    """When a user cancelled the task, if they did."""
    if task.current_status is not Status.CANCELED:
        return None
    at = task.status_times.as_dict().get(Status.CANCELED.value)
    return float(at) if at is not None else None


def _seconds(epoch_ms: int | None) -> float:
    return (epoch_ms or 0) / 1000
