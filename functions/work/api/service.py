"""What each API endpoint does, for an authenticated caller. Transport-free and testable."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from contracts.task_status import FINAL, Status
from functions.billing.access import billing_refusal
from functions.core import connection_tests
from functions.core.aws import AwsClients
from functions.core.clock import Clock, system_clock
from functions.core.destinations import for_mode, site_destinations
from functions.core.errors import TaskUnavailable, YarraCloudError
from functions.core.keys import normalise_task_id
from functions.core.models import ModeCatalog, ModeSettings, Task
from functions.core.modes import CLIENT_CONFIG_KEYS
from functions.core.pricing import micros_to_amount
from functions.core.settings import Settings
from functions.core.task_store import advance
from functions.work.api.body import excerpt
from functions.work.api.caller import Caller
from functions.work.submit import Hooks, Submitter, TaskFileMissing

MAX_JOBS_PER_REQUEST = 1000
MAX_MODE_NAME = 255


class RequestError(YarraCloudError):
    """The request cannot be served as sent (HTTP 400); nothing was changed."""


class NotFound(YarraCloudError):
    """No such task for this caller (HTTP 404) — also when another user holds it."""


class Conflict(YarraCloudError):
    """The task is not in a state that allows this (HTTP 409)."""


def yarra_text(value: Any) -> str:
    """A value as the Yarra clients read it: text, booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def task_id_or_error(value: str) -> str:
    task_id = normalise_task_id(value)
    if task_id is None:
        raise RequestError(
            f"{excerpt(value)} is not a UUID; each task is named by the UUID it was given"
        )
    return task_id


@dataclass
class ApiService:
    settings: Settings
    clients: AwsClients
    clock: Clock = system_clock
    hooks: Hooks | None = None

    def __post_init__(self) -> None:
        self.submitter = Submitter(
            self.settings, self.clients, clock=self.clock, hooks=self.hooks or Hooks()
        )

    # -- Yarra's endpoints ---------------------------------------------------------------

    def user_status(self, caller: Caller) -> dict[str, Any]:
        status: dict[str, Any] = {
            "can_submit_jobs": True,
            "username": caller.user_name,
            "in_bucket": self.settings.in_bucket,
            "out_bucket": self.settings.out_bucket,
            "region": self.settings.region,
        }
        reason = self.submission_blocked(caller)
        if reason:
            status.update(can_submit_jobs=False, reason=reason)
        return status

    @staticmethod
    def submission_blocked(caller: Caller) -> str | None:
        site = caller.site
        if site.suspended:
            return "your site is suspended; the site administrator can see why in the portal"
        return billing_refusal(site)

    def modes(self, caller: Caller) -> list[dict[str, Any]]:
        enabled = [s.mode_id for s in ModeSettings.query(caller.site.site_id) if s.enabled]
        if not enabled:
            return []
        catalog = {m.mode_id: m for m in ModeCatalog.batch_get(enabled)}
        answer = []
        for mode_id in sorted(enabled):
            mode = catalog.get(mode_id)
            if mode is None or mode.disabled:
                continue
            config = mode.client_config.as_dict()
            answer.append(
                {
                    "Name": mode_id,
                    "ClientConfig": {
                        key: yarra_text(config.get(key)) for key in CLIENT_CONFIG_KEYS
                    },
                }
            )
        return answer

    def job_submit(
        self, caller: Caller, name: str, task_file_name: str, recon_mode: str
    ) -> dict[str, Any]:
        task_id = task_id_or_error(name)
        if task_file_name not in (f"{task_id}.task", f"{task_id}_prio.task"):
            raise RequestError(
                f"task_file_name must be {task_id}.task, the task file uploaded with the task"
            )
        self.enabled_mode(caller, recon_mode)
        blocked = self.submission_blocked(caller)
        if blocked:
            raise RequestError(blocked)
        try:
            outcome = self.submitter.submit(caller.user_name, task_id, task_file_name)
        except TaskUnavailable:
            raise NotFound(f"task {task_id} cannot be submitted by this user") from None
        except TaskFileMissing as exc:
            raise RequestError(str(exc)) from None
        if outcome.status == Status.FAILED.value:
            raise RequestError(outcome.reason or "the task failed")
        return {"name": task_id, "status": outcome.status, "id": outcome.job_id or ""}

    def jobs(self, caller: Caller, names: list[str]) -> dict[str, Any]:
        if len(names) > MAX_JOBS_PER_REQUEST:
            raise RequestError(f"ask for at most {MAX_JOBS_PER_REQUEST} tasks per request")
        ids = {task_id_or_error(name) for name in names}
        answer = {}
        for task in Task.batch_get(sorted(ids)):
            if task.user_name != caller.user_name:
                continue
            answer[task.task_id] = {
                "batch_info": {"status": task.status},
                "cost": micros_to_amount(int(task.cost_micros or 0)),
                "id": task.job_id or "",
            }
        return answer

    def mode_destinations(self, caller: Caller, recon_mode: str) -> list[dict[str, str]]:
        self.enabled_mode(caller, recon_mode)
        destinations = site_destinations(caller.site.destinations.as_dict())
        return [d.as_entry() for d in for_mode(destinations, recon_mode)]

    # -- our extensions ------------------------------------------------------------------

    def job_status(self, caller: Caller, name: str) -> dict[str, Any]:
        task = self.own_task(caller, name)
        return {
            "name": task.task_id,
            "status": task.status,
            "status_times": {k: float(v) for k, v in task.status_times.as_dict().items()},
            "recon_mode": task.recon_mode or "",
            "id": task.job_id or "",
            "attempts": int(task.attempts or 0),
            "cost": micros_to_amount(int(task.cost_micros or 0)),
            "error": task.error or "",
        }

    def job_delivered(self, caller: Caller, name: str) -> dict[str, Any]:
        task = self.own_task(caller, name)
        if task.current_status is Status.DELIVERED:
            return {"name": task.task_id, "status": task.status}
        moved = advance(
            task,
            Status.DELIVERED,
            now=self.clock(),
            condition=Task.status == Status.SUCCEEDED.value,
        )
        if not moved:
            raise Conflict(
                f"task {task.task_id} is {task.status}; only a task whose reconstruction"
                " succeeded can be delivered"
            )
        return {"name": task.task_id, "status": Status.DELIVERED.value}

    def job_cancel(self, caller: Caller, name: str) -> dict[str, Any]:
        task = self.own_task(caller, name)
        if task.current_status is Status.CANCELED:
            return {"name": task.task_id, "status": task.status}
        if task.current_status in FINAL or task.current_status is Status.SUCCEEDED:
            raise Conflict(f"task {task.task_id} is {task.status} and can no longer be canceled")
        # The moment of the request, taken before the job is stopped: the site is charged
        # up to it (functions.billing.charges), not for the time the job takes to stop.
        now = self.clock()
        if task.job_id:
            try:
                self.clients.batch.terminate_job(
                    jobId=task.job_id, reason=f"Canceled by {caller.user_name}"
                )
            except ClientError as exc:
                raise Conflict(f"the job could not be stopped: {exc}") from None
        if not advance(
            task,
            Status.CANCELED,
            now=now,
            actions=[Task.error.set(f"canceled by {caller.user_name}")],
        ):
            raise Conflict(f"task {task.task_id} is {task.status} and can no longer be canceled")
        return {"name": task.task_id, "status": Status.CANCELED.value}

    def destination_tests(self, caller: Caller) -> dict[str, Any]:
        """The destinations of the caller's site whose connection test its agent should run."""
        return {"names": connection_tests.pending(caller.site)}

    def destination_test_result(
        self, caller: Caller, name: str, ok: bool, message: str
    ) -> dict[str, Any]:
        """Keep what the site's agent found when it tested the destination ``name``."""
        if not connection_tests.record_result(
            caller.site, name, ok=ok, message=message, now=self.clock()
        ):
            raise NotFound(f"the site has no destination {excerpt(name)}")
        return {"name": name, "ok": ok}

    # -- shared checks -------------------------------------------------------------------

    def own_task(self, caller: Caller, name: str) -> Task:
        task_id = task_id_or_error(name)
        try:
            task = Task.get(task_id, consistent_read=True)
        except Task.DoesNotExist:
            task = None
        if task is None or task.user_name != caller.user_name:
            raise NotFound(f"no task {task_id}")
        return task

    @staticmethod
    def enabled_mode(caller: Caller, recon_mode: str) -> ModeSettings:
        settings = None
        # DynamoDB refuses an empty or oversized key rather than finding nothing.
        if 0 < len(recon_mode) <= MAX_MODE_NAME:
            with contextlib.suppress(ModeSettings.DoesNotExist):
                settings = ModeSettings.get(caller.site.site_id, recon_mode)
        if settings is None or not settings.enabled:
            raise RequestError(
                f"unknown mode {excerpt(recon_mode)}: it is not enabled for your site"
                " (see v1/modes)"
            )
        return settings
