"""The local stand-in for AWS Batch: job state, local processes, state-change events.

``LocalBatch`` serves the part of the Batch API the handlers call (see
``batch_api``), runs each job attempt as a local process in its own process
group where AWS Batch would run a container, and publishes a "Batch Job State
Change" event for every status a job enters, so that everything downstream of
Batch runs unchanged. Jobs wait in one FIFO queue for ``concurrency`` workers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from scripts.local_cloud.batch_api import BatchApi, BatchHttpServer, JobSpec, matches, prune
from scripts.local_cloud.container_jobs import ContainerJobs

logger = logging.getLogger("yarracloud.local_batch")

Publish = Callable[[dict[str, Any]], None]

STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
DONE = frozenset({"SUCCEEDED", "FAILED"})

EXITED = "Essential container in task exited"
TIMED_OUT = "Job attempt duration exceeded timeout"
RUNNER_STOPPED = "The local Batch runner stopped"


def eventbridge_publisher(events_client: Any) -> Publish:
    """Return a ``publish`` that sends each job description to EventBridge as AWS Batch does.

    Parameters
    ----------
    events_client
        A boto3 ``events`` client (pointed at the emulator locally).
    """

    def publish(detail: dict[str, Any]) -> None:
        answer = events_client.put_events(
            Entries=[
                {
                    "Source": "aws.batch",
                    "DetailType": "Batch Job State Change",
                    "Detail": json.dumps(detail),
                    "Resources": [detail["jobArn"]],
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the event: {answer['Entries']}")

    return publish


def retry_action(
    rules: Iterable[Mapping[str, str]],
    *,
    exit_code: int | None,
    reason: str | None,
    status_reason: str | None,
) -> str | None:
    """Return the action of the first ``evaluateOnExit`` rule matching an attempt.

    A rule matches when each of its ``onExitCode``, ``onReason`` and
    ``onStatusReason`` patterns that is present matches; a pattern is an exact
    value or a prefix ending in ``*``.

    Returns
    -------
    str or None
        ``"RETRY"`` or ``"EXIT"``; None when no rule matches, in which case
        AWS Batch retries while attempts remain.
    """
    values = {
        "onExitCode": "" if exit_code is None else str(exit_code),
        "onReason": reason or "",
        "onStatusReason": status_reason or "",
    }
    for rule in rules:
        if all(matches(rule[key], value) for key, value in values.items() if key in rule):
            return rule["action"].upper()
    return None


@dataclass(eq=False)
class _Job:
    """One job's true state; fields change under ``LocalBatch._cond``."""

    job_id: str
    arn: str
    spec: JobSpec
    created_at: int
    status: str = ""
    status_reason: str | None = None
    started_at: int | None = None
    stopped_at: int | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    current: dict[str, Any] | None = None  # the attempt under way
    announced: str = ""  # the last status published
    claimed: bool = False  # a worker has taken it off the queue
    proc: subprocess.Popen[bytes] | None = None
    kill_reason: str | None = None
    is_cancelled: bool = False
    is_terminated: bool = False


class LocalBatch:
    """AWS Batch on this machine: the API over HTTP, jobs as local processes.

    Parameters
    ----------
    region, account
        Go into the ARNs.
    publish
        Called with the job's description (as DescribeJobs answers) each time
        a job enters a status, in order; see ``eventbridge_publisher``.
    job_env
        The base environment of every job (PATH, AWS credentials and
        endpoint, ...); the job definition's and the submission's environment
        go over it. It is never part of a job's description.
    work_dir
        Each attempt's output goes to ``{work_dir}/logs/{jobId}/attempt-{n}.log``.
    cwd
        The working directory of every job.
    concurrency
        How many jobs run at once.
    command_override
        Replaces the job definition's command (which names a path inside the
        container image); a submission's ``containerOverrides.command`` still wins.
    containers
        Run each attempt as a container of the worker image instead of a local
        process; ``job_env`` is then exactly the container's environment.
    clock
        Seconds since the epoch, for the ms timestamps jobs carry.
    """

    kill_grace_seconds: float = 5.0
    """How long a stopped job has between SIGTERM and SIGKILL."""

    def __init__(
        self,
        *,
        region: str,
        account: str,
        publish: Publish,
        job_env: Mapping[str, str],
        work_dir: Path,
        cwd: Path,
        concurrency: int = 2,
        command_override: Sequence[str] | None = None,
        containers: ContainerJobs | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._arn_prefix = f"arn:aws:batch:{region}:{account}"
        self._publish = publish
        self._job_env = dict(job_env)
        self._work_dir = Path(work_dir)
        self._cwd = Path(cwd)
        self._concurrency = concurrency
        self._clock = clock
        self._containers = containers
        self._api = BatchApi(self, arn_prefix=self._arn_prefix, command_override=command_override)
        # _cond guards the jobs for short reads and writes; _mutate is held for a
        # whole status change. One publisher thread sends the events in the order
        # the changes happened, without holding up the API or the jobs.
        self._cond = threading.Condition()
        self._mutate = threading.RLock()
        self._jobs: dict[str, _Job] = {}
        self._runnable: queue.Queue[str | None] = queue.Queue()
        self._outbox: queue.Queue[tuple[_Job, str, dict[str, Any]] | None] = queue.Queue()
        self._workers: list[threading.Thread] = []
        self._publisher = threading.Thread(
            target=self._publish_in_order, name="local-batch-events", daemon=True
        )
        self._http: BatchHttpServer | None = None
        self._stopping = False

    # -- lifecycle -------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The endpoint URL for ``boto3.client("batch", endpoint_url=...)``."""
        if self._http is None:
            raise RuntimeError("the local Batch runner is not started")
        return self._http.url

    def start(self) -> str:
        """Start serving and running jobs; return the endpoint URL."""
        with self._mutate:
            if self._stopping:
                raise RuntimeError("a stopped local Batch runner cannot start again")
            if self._http is None:
                self._http = BatchHttpServer(self._api.handle)
                self._http.start()
                self._publisher.start()
                for number in range(self._concurrency):
                    worker = threading.Thread(
                        target=self._work, name=f"local-batch-worker-{number}", daemon=True
                    )
                    worker.start()
                    self._workers.append(worker)
            return self._http.url

    def stop(self) -> None:
        """Stop serving, kill running jobs (they end FAILED) and join all threads.

        Jobs still waiting in the queue stay RUNNABLE. Calling it again does nothing.
        """
        with self._mutate:
            if self._stopping:
                return
            self._stopping = True
            running = [job for job in self._jobs.values() if job.proc is not None]
            for job in running:
                job.kill_reason = job.kill_reason or RUNNER_STOPPED
            killers = [
                threading.Thread(target=self._kill, args=(job.proc,), daemon=True)
                for job in running
            ]
        if self._http is not None:
            self._http.stop()
        for killer in killers:
            killer.start()
        for killer in killers:
            killer.join()
        for _ in self._workers:
            self._runnable.put(None)
        for worker in self._workers:
            worker.join()
        if self._publisher.is_alive():
            self._outbox.put(None)
            self._publisher.join()

    def __enter__(self) -> LocalBatch:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- inspection ------------------------------------------------------------

    def wait_for(self, job_id: str, statuses: Collection[str], timeout: float) -> dict[str, Any]:
        """Block until the job has entered, and published, one of ``statuses``.

        Returns
        -------
        dict
            The job's description, as DescribeJobs answers.

        Raises
        ------
        TimeoutError
            When ``timeout`` seconds pass first; it names the job and its status.
        """
        wanted = {statuses} if isinstance(statuses, str) else set(statuses)
        if unknown := wanted.difference(STATUSES):
            raise ValueError(f"not Batch job statuses: {sorted(unknown)}")

        def reached() -> bool:
            job = self._jobs.get(job_id)
            return job is not None and job.announced in wanted

        with self._cond:
            if not self._cond.wait_for(reached, timeout):
                job = self._jobs.get(job_id)
                now = job.status if job else "unknown to the runner"
                raise TimeoutError(
                    f"Batch job {job_id} is {now}, not {' or '.join(sorted(wanted))}, "
                    f"after {timeout} s"
                )
            return self._describe(self._jobs[job_id])

    def jobs(self) -> list[dict[str, Any]]:
        """Every job's description, oldest first."""
        with self._cond:
            return [self._describe(job) for job in self._jobs.values()]

    # -- what the API calls ----------------------------------------------------

    def describe(self, job_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The descriptions of the jobs among ``job_ids`` that exist."""
        with self._cond:
            return [self._describe(self._jobs[i]) for i in job_ids if i in self._jobs]

    def submit(self, spec: JobSpec) -> dict[str, str]:
        """Queue a job; it passes SUBMITTED and PENDING to RUNNABLE at once."""
        job_id = str(uuid.uuid4())
        job = _Job(job_id, f"{self._arn_prefix}:job/{job_id}", spec, created_at=self._now())
        with self._mutate:
            with self._cond:
                self._jobs[job_id] = job
            for status in ("SUBMITTED", "PENDING", "RUNNABLE"):
                self._enter(job, status)
            self._runnable.put(job_id)
        return {"jobArn": job.arn, "jobName": spec.name, "jobId": job_id}

    def stop_job(self, job_id: str, reason: str, *, terminate: bool) -> None:
        """TerminateJob (``terminate``) or CancelJob.

        A queued job fails at once. A started one is killed by TerminateJob
        and, as on AWS, left alone by CancelJob. Unknown or finished jobs are
        no error.
        """
        with self._mutate:
            job = self._jobs.get(job_id)
            if job is None or job.status in DONE or (job.claimed and not terminate):
                return
            with self._cond:
                job.is_terminated = job.is_terminated or terminate
                job.is_cancelled = job.is_cancelled or not terminate
            if not job.claimed:
                self._enter(job, "FAILED", reason=reason, stopped_at=self._now())
            elif job.kill_reason is None and job.proc is not None:
                job.kill_reason = reason
                threading.Thread(target=self._kill, args=(job.proc,), daemon=True).start()

    # -- running ---------------------------------------------------------------

    def _work(self) -> None:
        while (job_id := self._runnable.get()) is not None:
            try:
                self._run_attempt(job_id)
            except Exception:
                logger.exception("the local Batch runner failed running job %s", job_id)

    def _run_attempt(self, job_id: str) -> None:
        with self._mutate:
            job = self._jobs[job_id]
            if self._stopping or job.status != "RUNNABLE" or job.claimed:
                return  # cancelled while queued, or the runner is stopping
            with self._cond:
                job.claimed = True
            self._enter(job, "STARTING")
            number = len(job.attempts) + 1
            log_name = f"logs/{job_id}/attempt-{number}.log"
            attempt = {"container": {"logStreamName": log_name}, "startedAt": self._now()}
            log_path = self._work_dir / log_name
            log_path.parent.mkdir(parents=True, exist_ok=True)
            argv, env = list(job.spec.command), self._env_for(job, number)
            container = f"yarracloud-job-{job_id}-{number}"
            if self._containers is not None:
                launch = self._containers.launch(container, argv, env, job.spec.resources)
                argv, env = launch.argv, launch.env
            try:
                with log_path.open("wb") as log:
                    proc = subprocess.Popen(
                        argv,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                        cwd=self._cwd,
                        start_new_session=True,
                    )
            except OSError as error:
                self._end_attempt(
                    job,
                    attempt,
                    exit_code=None,
                    reason=f"CannotStartContainerError: {error}",
                    status_reason="Task failed to start",
                    retry=True,
                )
                return
            with self._cond:
                job.proc = proc
                job.current = attempt
            self._enter(job, "RUNNING", started_at=attempt["startedAt"])

        seconds = (job.spec.timeout or {}).get("attemptDurationSeconds")
        timed_out = False
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._kill(proc)
        finally:
            # A container's end takes all its processes with it.
            _signal_group(proc, signal.SIGKILL)
            if self._containers is not None:
                self._containers.remove(container)
        code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode

        with self._mutate:
            if job.kill_reason is not None:
                self._end_attempt(job, attempt, exit_code=code, status_reason=job.kill_reason)
            elif timed_out:
                self._end_attempt(job, attempt, exit_code=code, status_reason=TIMED_OUT)
            else:
                self._end_attempt(job, attempt, exit_code=code, status_reason=EXITED, retry=True)

    def _end_attempt(
        self,
        job: _Job,
        attempt: dict[str, Any],
        *,
        exit_code: int | None,
        status_reason: str,
        reason: str | None = None,
        retry: bool = False,
    ) -> None:
        """Record a finished attempt and move the job on: done, or RUNNABLE for a retry.

        ``retry`` is False for attempts stopped by a timeout or TerminateJob,
        which AWS Batch does not retry.
        """
        stopped = self._now()
        attempt["container"].update(exitCode=exit_code, reason=reason)
        attempt.update(stoppedAt=stopped, statusReason=status_reason)
        with self._cond:
            job.attempts.append(attempt)
            job.current = None
            job.proc = None
            job.claimed = False
        strategy = job.spec.retry_strategy or {}
        if job.kill_reason is not None:
            self._enter(job, "FAILED", reason=job.kill_reason, stopped_at=stopped)
        elif exit_code == 0:
            self._enter(job, "SUCCEEDED", reason=status_reason, stopped_at=stopped)
        elif (
            retry
            and not self._stopping
            and len(job.attempts) < int(strategy.get("attempts") or 1)
            and retry_action(
                strategy.get("evaluateOnExit") or (),
                exit_code=exit_code,
                reason=reason,
                status_reason=status_reason,
            )
            != "EXIT"
        ):
            self._enter(job, "RUNNABLE")
            self._runnable.put(job.job_id)
        else:
            self._enter(job, "FAILED", reason=status_reason, stopped_at=stopped)

    def _enter(self, job: _Job, status: str, *, reason: str | None = None, **fields: Any) -> None:
        """Move the job to ``status`` and queue its event; the caller holds ``_mutate``."""
        with self._cond:
            for name, value in fields.items():
                setattr(job, name, value)
            job.status = status
            job.status_reason = reason
            detail = self._describe(job)
        logger.info(
            "Batch job %s is %s", job.job_id, status, extra={"job_id": job.job_id, "status": status}
        )
        self._outbox.put((job, status, detail))

    def _publish_in_order(self) -> None:
        while (item := self._outbox.get()) is not None:
            job, status, detail = item
            try:
                self._publish(detail)
            except Exception:
                logger.exception("publishing Batch job %s %s failed", job.job_id, status)
            with self._cond:
                job.announced = status
                self._cond.notify_all()

    def _kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM the job's process group, then SIGKILL after the grace period, as ECS does."""
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=self.kill_grace_seconds)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()

    def _env_for(self, job: _Job, attempt: int) -> dict[str, str]:
        env = dict(self._job_env)
        env.update((item["name"], item["value"]) for item in job.spec.environment)
        env.update(
            AWS_BATCH_JOB_ID=job.job_id,
            AWS_BATCH_JOB_ATTEMPT=str(attempt),
            AWS_BATCH_JQ_NAME=job.spec.queue_name,
            AWS_BATCH_CE_NAME=job.spec.compute_environment,
        )
        return env

    def _describe(self, job: _Job) -> dict[str, Any]:
        """The job as DescribeJobs answers; the caller holds ``_cond``."""
        spec = job.spec
        latest = job.current or (job.attempts[-1] if job.attempts else {"container": {}})
        resolved = ("vcpus", "memory", "command", "environment", "resourceRequirements")
        container = {
            **{k: v for k, v in spec.container_properties.items() if k not in resolved},
            "command": spec.command,
            "environment": spec.environment,
            "resourceRequirements": spec.resources,
            "exitCode": latest["container"].get("exitCode"),
            "reason": latest["container"].get("reason"),
            "logStreamName": latest["container"].get("logStreamName"),
        }
        return prune(
            {
                "jobArn": job.arn,
                "jobName": spec.name,
                "jobId": job.job_id,
                "jobQueue": spec.queue_arn,
                "status": job.status,
                "statusReason": job.status_reason,
                "attempts": job.attempts,
                "createdAt": job.created_at,
                "startedAt": job.started_at,
                "stoppedAt": job.stopped_at,
                "jobDefinition": spec.definition_arn,
                "parameters": spec.parameters,
                "container": container,
                "tags": spec.tags,
                "propagateTags": spec.propagate_tags,
                "timeout": spec.timeout,
                "retryStrategy": spec.retry_strategy,
                "platformCapabilities": spec.platform_capabilities,
                "isCancelled": job.is_cancelled,
                "isTerminated": job.is_terminated,
            }
        )

    def _now(self) -> int:
        return int(self._clock() * 1000)


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)
