"""How a task reads on the monitor: its stage in words, times, duration and cost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from contracts.task_status import Status
from functions.core.models import Task
from functions.core.pricing import MICROS

STAGES: dict[Status, str] = {
    Status.UPLOADING: "Receiving the raw data",
    Status.SUBMITTED: "Submitted for reconstruction",
    Status.PENDING: "Waiting in the queue",
    Status.RUNNABLE: "Waiting for a machine",
    Status.STARTING: "Starting the machine",
    Status.RUNNING: "Reconstructing",
    Status.SUCCEEDED: "Images ready for the site",
    Status.DELIVERED: "Images delivered",
    Status.FAILED: "Failed",
    Status.CANCELED: "Canceled",
    Status.EXPIRED: "Upload never completed",
}


def when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(float(epoch), UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0, round(float(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def money(micros: int | float | None, currency: str) -> str:
    amount = (micros or 0) / MICROS
    return f"{amount:,.4f} {currency}" if amount and amount < 0.01 else f"{amount:,.2f} {currency}"


@dataclass(frozen=True)
class TaskRow:
    task_id: str
    site_id: str
    user_name: str
    mode: str
    status: str
    stage: str
    created: str
    started: str
    finished: str
    run_time: str
    cost: str
    attempts: int
    failure: str
    size: str
    cost_micros: int = 0

    @classmethod
    def of(cls, task: Task, currency: str) -> TaskRow:
        status = task.status
        run = None
        if task.started_at is not None:
            end = task.stopped_at if task.stopped_at is not None else None
            run = (float(end) - float(task.started_at)) if end is not None else None
        size = ""
        if task.vcpus:
            size = f"{int(task.vcpus)} vCPU · {int(task.memory_mib or 0) // 1024} GiB"
            size += " · spot" if task.spot else " · on-demand"
        return cls(
            task_id=task.task_id,
            site_id=task.site_id,
            user_name=task.user_name,
            mode=task.recon_mode or "",
            status=status,
            stage=STAGES.get(status, status.title()),
            created=when(task.created_at),
            started=when(task.started_at),
            finished=when(task.stopped_at),
            run_time=duration(run),
            cost=money(task.cost_micros, currency),
            attempts=int(task.attempts or 0),
            failure=task.error or "",
            size=size,
            cost_micros=int(task.cost_micros or 0),
        )
