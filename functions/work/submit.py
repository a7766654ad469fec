"""The one guarded path that opens and submits a task.

Both the S3 events of the in bucket and ``v1/job_submit`` come through here, so
whichever arrives first, exactly one Batch job runs: the move from ``UPLOADING``
to ``SUBMITTED`` is one conditional write, and only its winner calls SubmitJob
(which has no client token of its own).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist, UpdateError

from contracts.task_status import Status
from functions.billing.access import billing_refusal
from functions.core.aws import AwsClients
from functions.core.clock import Clock, system_clock
from functions.core.errors import TaskFileError, TaskRejected, TaskUnavailable, YarraCloudError
from functions.core.keys import InKey, in_key, s3_url, task_prefix
from functions.core.models import ModeCatalog, ModeSettings, Site, Task, User
from functions.core.settings import Settings
from functions.core.task_store import (
    advance,
    condition_failed,
    fail,
    open_task,
    status_actions,
)
from functions.core.taskfile import TaskFile, parse_task_file

logger = logging.getLogger(__name__)

TAG_TASK = "yc:task_id"
TAG_SITE = "yc:site_id"
TAG_USER = "yc:user"


def job_name(task_id: str) -> str:
    return f"yc-{task_id}"


class TaskFileMissing(YarraCloudError):
    """``v1/job_submit`` came before the task file: not a failure of the task."""


@dataclass(frozen=True)
class Outcome:
    """What one call did to the task: ``action`` is a word for logs and the API."""

    task_id: str
    action: str
    status: str | None = None
    job_id: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Hooks:
    """Named points where tests inject faults or races; no-ops in production."""

    before_claim: Callable[[str], None] = lambda task_id: None
    before_submit_job: Callable[[str], None] = lambda task_id: None
    before_api_caller: Callable[[str], None] = lambda path: None
    """The API has read a request's body and is about to look up who sent it."""


@dataclass
class Submitter:
    settings: Settings
    clients: AwsClients
    clock: Clock = system_clock
    hooks: Hooks = field(default_factory=Hooks)

    # -- raw files ---------------------------------------------------------------------

    def open(self, key: InKey) -> Outcome:
        """A raw file arrived: make sure its task exists in ``UPLOADING``."""
        user = self._user(key.user)
        if user is None:
            return Outcome(key.task_id, "ignored", reason="unknown or disabled user")
        try:
            task = open_task(
                key.task_id, user_name=user.user_name, site_id=user.site_id, now=self.clock()
            )
        except TaskUnavailable:
            logger.warning(
                "upload refused: task id unavailable to this user", extra={"task_id": key.task_id}
            )
            return Outcome(key.task_id, "refused")
        return Outcome(key.task_id, "opened", status=task.status, job_id=task.job_id)

    # -- task files --------------------------------------------------------------------

    def submit(self, user_name: str, task_id: str, task_file_name: str) -> Outcome:
        """Validate the task and submit its job, unless that already happened.

        Raises
        ------
        TaskUnavailable
            The task id belongs to someone else (or the user is unknown).
        TaskFileMissing
            The task file has not been uploaded (only ``v1/job_submit`` can see this).
        """
        user = self._user(user_name)
        if user is None:
            raise TaskUnavailable(task_id)
        key = in_key(user.user_name, task_id, task_file_name)
        size = self._task_file_size(key, task_file_name)
        task = open_task(task_id, user_name=user.user_name, site_id=user.site_id, now=self.clock())
        if task.current_status is not Status.UPLOADING:
            return Outcome(task_id, "unchanged", status=task.status, job_id=task.job_id)
        try:
            task_file = self._read_task_file(key, task_file_name, task_id, size)
            mode = self._mode_settings(user.site_id, task_file.recon_mode)
            sizes = self._raw_file_sizes(user.user_name, task_file)
        except TaskRejected as exc:
            reason = str(exc)
            if fail(
                task, reason, now=self.clock(), condition=Task.status == Status.UPLOADING.value
            ):
                logger.info(
                    "task rejected",
                    extra={"task_id": task_id, "site_id": user.site_id, "reason": reason},
                )
                return Outcome(task_id, "rejected", status=Status.FAILED.value, reason=reason)
            return self._current(task_id, "unchanged")
        return self._claim_and_submit(task, user, task_file, key, mode, sizes)

    def _claim_and_submit(
        self,
        task: Task,
        user: User,
        task_file: TaskFile,
        key: str,
        mode: ModeSettings,
        sizes: dict[str, int],
    ) -> Outcome:
        task_id = task.task_id
        claim = uuid.uuid4().hex
        queue = self.settings.job_queue_spot if mode.spot else self.settings.job_queue_on_demand
        self.hooks.before_claim(task_id)
        claimed = advance(
            task,
            Status.SUBMITTED,
            now=self.clock(),
            actions=[
                Task.claim_id.set(claim),
                Task.recon_mode.set(task_file.recon_mode),
                Task.param_value.set(task_file.param_value),
                Task.task_file_key.set(key),
                Task.raw_files.set(sizes),
                Task.vcpus.set(mode.vcpus),
                Task.memory_mib.set(mode.memory_mib),
                Task.spot.set(mode.spot),
                Task.timeout_seconds.set(mode.timeout_seconds),
                Task.job_queue.set(queue),
            ],
        )
        if not claimed:
            return self._current(task_id, "unchanged")
        try:
            self.hooks.before_submit_job(task_id)
            job_id = self._submit_job(task, user, task_file, mode, queue)
        except Exception:
            # The answer may be what was lost: a job that exists must not be submitted twice.
            found = find_job(self.clients.batch, queue, task_id)
            if found is None:
                self._release(task, claim)
                raise
            job_id = found["jobId"]
            logger.warning("SubmitJob failed after Batch took the job", extra={"task_id": task_id})
        try:
            task.update(
                actions=[Task.job_id.set(job_id)],
                condition=(Task.claim_id == claim)
                & (Task.job_id.does_not_exist() | (Task.job_id == job_id)),
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
        logger.info(
            "job submitted",
            extra={
                "task_id": task_id,
                "site_id": user.site_id,
                "job_id": job_id,
                "job_queue": queue,
            },
        )
        return Outcome(task_id, "submitted", status=Status.SUBMITTED.value, job_id=job_id)

    def _submit_job(
        self, task: Task, user: User, task_file: TaskFile, mode: ModeSettings, queue: str
    ) -> str:
        prefix = task_prefix(user.user_name, task.task_id)
        environment = {
            "YC_TASK_UUID": task.task_id,
            "YC_USER": user.user_name,
            "YC_INPUT": s3_url(self.settings.in_bucket, prefix),
            "YC_OUTPUT": s3_url(self.settings.out_bucket, prefix),
            "YC_MODE": task_file.recon_mode,
            "YC_PARAM": task_file.param_value,
            "YC_VCPUS": str(int(mode.vcpus)),
        }
        response = self.clients.batch_submit.submit_job(
            jobName=job_name(task.task_id),
            jobQueue=queue,
            jobDefinition=self.settings.job_definition,
            containerOverrides={
                "environment": [{"name": k, "value": v} for k, v in environment.items()],
                "resourceRequirements": [
                    {"type": "VCPU", "value": str(int(mode.vcpus))},
                    {"type": "MEMORY", "value": str(int(mode.memory_mib))},
                ],
            },
            timeout={"attemptDurationSeconds": max(60, int(mode.timeout_seconds))},
            tags={TAG_TASK: task.task_id, TAG_SITE: user.site_id, TAG_USER: user.user_name},
            propagateTags=True,
        )
        return response["jobId"]

    def recover(self, task: Task) -> Outcome:
        """Finish a submission that stopped between its claim and SubmitJob's answer.

        The caller has made sure Batch has no job for the task: the claim is released
        and the task submitted again through the guarded path.
        """
        self._release(task, task.claim_id or "")
        name = (task.task_file_key or "").rsplit("/", 1)[-1]
        return self.submit(task.user_name, task.task_id, name)

    def _release(self, task: Task, claim: str) -> None:
        """Undo our own claim after SubmitJob failed, so that the retry can submit."""
        try:
            Task(task.task_id).update(
                actions=[*status_actions(task.site_id, Status.UPLOADING), Task.claim_id.remove()],
                condition=(Task.claim_id == claim)
                & Task.job_id.does_not_exist()
                & (Task.status == Status.SUBMITTED.value),
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise

    # -- lookups -----------------------------------------------------------------------

    def _current(self, task_id: str, action: str) -> Outcome:
        task = Task.get(task_id, consistent_read=True)
        return Outcome(task_id, action, status=task.status, job_id=task.job_id, reason=task.error)

    def _user(self, user_name: str) -> User | None:
        try:
            user = User.get(user_name)
        except DoesNotExist:
            logger.warning("upload from an unknown user ignored")
            return None
        return user if user.enabled else None

    def _size_of(self, key: str) -> int | None:
        """Size of an object of the in bucket, None if it is not there."""
        try:
            head = self.clients.s3.head_object(Bucket=self.settings.in_bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return head["ContentLength"]

    def _task_file_size(self, key: str, name: str) -> int:
        size = self._size_of(key)
        if size is None:
            raise TaskFileMissing(
                f"{name} has not been uploaded; upload the raw files, then the task file,"
                " then submit"
            )
        return size

    def _read_task_file(self, key: str, name: str, task_id: str, size: int) -> TaskFile:
        limit = self.settings.max_task_file_bytes
        if size > limit:
            raise TaskFileError(
                f"{name} is {size / 1e6:.1f} MB; a Yarra task file is a few kilobytes (at most"
                f" {limit // 1024} KiB). Upload the .task file that the Yarra client wrote."
            )
        body = self.clients.s3.get_object(
            Bucket=self.settings.in_bucket, Key=key, Range=f"bytes=0-{limit}"
        )
        return parse_task_file(body["Body"].read(), name=name, expected_task_id=task_id)

    def _mode_settings(self, site_id: str, mode_id: str) -> ModeSettings:
        try:
            site = Site.get(site_id)
        except DoesNotExist:
            raise TaskRejected("your user belongs to no site; ask the operator") from None
        if site.suspended:
            raise TaskRejected(
                "your site is suspended and cannot submit tasks; the site administrator can"
                " see why in the portal"
            )
        refusal = billing_refusal(site)
        if refusal:
            raise TaskRejected(refusal)
        try:
            catalog = ModeCatalog.get(mode_id)
        except DoesNotExist:
            catalog = None
        if catalog is None or catalog.disabled:
            raise TaskRejected(
                f"recon mode {mode_id!r} is not offered by this service; choose a mode listed"
                " by the Yarra client (v1/modes)"
            )
        try:
            settings = ModeSettings.get(site_id, mode_id)
        except DoesNotExist:
            settings = None
        if settings is None or not settings.enabled:
            raise TaskRejected(
                f"recon mode {mode_id!r} is not enabled for your site; the site administrator"
                " can enable it in the portal"
            )
        return settings

    def _raw_file_sizes(self, user_name: str, task_file: TaskFile) -> dict[str, int]:
        sizes = {}
        for name in task_file.raw_files:
            size = self._size_of(in_key(user_name, task_file.task_id, name))
            if size is None:
                raise TaskRejected(
                    f"raw file {name} named in the task file was not uploaded; upload the"
                    " raw files before the task file, then submit again with a new UUID"
                )
            sizes[name] = size
        expected = task_file.scan_file_size
        actual = sizes[task_file.scan_file]
        if actual != expected:
            raise TaskRejected(
                f"raw file {task_file.scan_file} is {actual} bytes in the cloud but the task file"
                f" says {expected}: the upload is incomplete or the file changed; upload it"
                " again under a new UUID"
            )
        return sizes


def find_job(batch: Any, queue: str, task_id: str) -> dict[str, Any] | None:
    """The job summary Batch holds for ``task_id`` in ``queue`` (found by its name), or None."""
    summaries = batch.list_jobs(
        jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [job_name(task_id)]}]
    )["jobSummaryList"]
    return summaries[0] if summaries else None
