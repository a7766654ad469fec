"""The agent's loop: find ready tasks, move up to ``concurrency`` of them at once, resume others.

Every ``poll_seconds`` (and whenever a task frees its slot) the loop looks for tasks the ORT
client has finished exporting and for tasks whose wait has run out, and hands each to a
worker thread that runs its :class:`~agent.pipeline.TaskPipeline` until the task waits,
fails or is done. A waiting task holds no thread, so a PACS that is down or a long
reconstruction never blocks the tasks behind it. :meth:`Agent.stop` (SIGTERM) lets each
running task finish its current step, then returns; the next start resumes from the journals.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from agent.api import CloudApi
from agent.config import AgentConfig
from agent.connection_tests import run_requested_tests
from agent.delivery.destination import destination_from_config
from agent.errors import BadTask
from agent.journal import TaskJournal
from agent.ort import OrtFolders
from agent.pipeline import (
    AgentContext,
    BeforeStep,
    Outcome,
    TaskPipeline,
    cloud_uuid_of,
    log_internal_error,
    restart_from_upload,
)
from agent.retention import prune_finished
from agent.status import FAILED, TaskState, agent_root

logger = logging.getLogger("yarracloud.agent")
PRUNE_EVERY_S = 3600.0
"""How often the loop forgets tasks that ended more than ``keep_days`` ago."""


def s3_client(config: AgentConfig, env: Mapping[str, str] = os.environ) -> Any:
    """A boto3 S3 client signed with the agent's key, at the config's ``s3_endpoint``.

    ``AWS_ENDPOINT_URL`` or ``AWS_ENDPOINT_URL_S3`` in ``env`` overrides the config's
    endpoint (boto3 reads them itself).
    """
    overridden = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    return boto3.session.Session(
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=config.secret,
        region_name=config.region,
    ).client("s3", endpoint_url=None if overridden else config.s3_endpoint or None)


def context_for(
    config: AgentConfig,
    *,
    before_step: BeforeStep | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> AgentContext:
    """The shared context of an agent run with ``config``.

    Raises
    ------
    ConfigError
        When a ``[[destination]]`` table is wrong.
    """
    return AgentContext(
        base=config.base,
        api=CloudApi(config.api_url, config.access_key_id, config.secret, config.region),
        s3=s3_client(config),
        destinations=tuple(destination_from_config(table) for table in config.destinations),
        bandwidth_bytes_per_second=config.bandwidth_bytes_per_second,
        poll_seconds=config.poll_seconds,
        before_step=before_step,
        stopping=stopping,
    )


@dataclass
class _Schedule:
    """The loop's view of the tasks: running, waiting until a time, stopped by an error."""

    running: dict[str, Future[Outcome]] = field(default_factory=dict)
    wake_at: dict[str, float] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)


class Agent:
    """The service. ``run()`` loops until ``stop()``; ``run(until=...)`` until a condition holds.

    Parameters
    ----------
    config
        The loaded configuration.
    before_step
        Optional hook called as ``before_step(uuid, step)`` in the task's worker thread
        before each step; tests use it to pause or kill the agent at a named step.
    context
        A ready context (tests pass one with their own clients); built from ``config``
        when None.
    clock
        Monotonic seconds (injectable).
    """

    def __init__(
        self,
        config: AgentConfig,
        *,
        before_step: BeforeStep | None = None,
        context: AgentContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self.context = context or context_for(
            config, before_step=before_step, stopping=self._stop.is_set
        )
        if context is not None and before_step is not None:
            self.context.before_step = before_step
        if context is not None:
            self.context.stopping = self._stop.is_set
        self.clock = clock
        self.schedule = _Schedule()
        self._warned_orphans: set[str] = set()
        self._prune_at = 0.0
        self._tests_at = 0.0
        self._tests: Future[list[str]] | None = None

    # -- control -----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to end once every running task has finished its current step."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()

    @property
    def finished(self) -> set[str]:
        """UUIDs of the tasks this run has brought to their end."""
        return set(self.schedule.finished)

    @property
    def failed(self) -> set[str]:
        """UUIDs of the tasks stopped by an error, in this run or before (see ``status``)."""
        return set(self.schedule.failed)

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Loop until :meth:`stop` is called or ``until()`` is true; then wait for running steps."""
        pool = ThreadPoolExecutor(
            max_workers=self.config.concurrency, thread_name_prefix="yarracloud-task"
        )
        tester = ThreadPoolExecutor(max_workers=1, thread_name_prefix="yarracloud-test")
        logger.info(
            "agent started: concurrency %d, polling every %g s",
            self.config.concurrency,
            self.config.poll_seconds,
        )
        try:
            while not self._stop.is_set():
                self._collect()
                self._prune()
                self._connection_tests(tester)
                if until is not None and until():
                    break
                self._start_ready(pool)
                self._sleep()
        finally:
            self._stop.set()
            tester.shutdown(wait=True)
            pool.shutdown(wait=True)
            self._collect()
            logger.info("agent stopped")

    # -- the loop's parts --------------------------------------------------------------

    def _candidates(self) -> list[str]:
        folders = self.context.folders
        ready = folders.ready_tasks()
        for uuid in folders.orphan_phi():
            if uuid not in self._warned_orphans:
                self._warned_orphans.add(uuid)
                logger.warning(
                    "task has a .phi file but no task file in %s; ORT has not finished"
                    " exporting it (or the export failed: export the scan again)",
                    folders.out,
                    extra={"task_id": uuid},
                )
        return ready + [uuid for uuid in self._unfinished_archives() if uuid not in ready]

    def _unfinished_archives(self) -> list[str]:
        """Tasks killed after their ``.phi`` was archived but before the journal said so."""
        folders = self.context.folders
        found = []
        for path in folders.journal.glob("*.json"):
            uuid = path.stem
            if uuid in self.schedule.finished or not (folders.phi_archive / f"{uuid}.phi").exists():
                continue
            if self._state(uuid).get("stage") == "archive":
                found.append(uuid)
        return found

    def _start_ready(self, pool: ThreadPoolExecutor) -> None:
        now = self.clock()
        schedule = self.schedule
        for uuid in self._candidates():
            if len(schedule.running) >= self.config.concurrency:
                return
            if uuid in schedule.running or uuid in schedule.finished:
                continue
            state = self._state(uuid)
            if schedule.wake_at.get(uuid, 0.0) > now and state.get("retry_at") is not None:
                continue
            if state.get("stage") == FAILED:
                schedule.failed.add(uuid)
                continue
            schedule.failed.discard(uuid)
            schedule.wake_at.pop(uuid, None)
            future = pool.submit(self._run_task, uuid)
            schedule.running[uuid] = future
            future.add_done_callback(lambda _: self._notify())

    def _state(self, uuid: str) -> TaskState:
        """The task's state record as ``retry`` (another process) may have changed it."""
        return TaskState(agent_root(self.config.base) / uuid)

    def _run_task(self, uuid: str) -> Outcome:
        try:
            return TaskPipeline(self.context, uuid).run()
        except BadTask as error:
            logger.error("task cannot be processed: %s", error, extra={"task_id": uuid})
            return Outcome("failed", message=str(error))
        except Exception as error:
            log_internal_error(logging.LoggerAdapter(logger, {"task_id": uuid}), "task", error)
            return Outcome("wait", wait_seconds=60.0, message=type(error).__name__)

    def _collect(self) -> None:
        """Take in the outcomes of the tasks whose run has ended."""
        schedule = self.schedule
        for uuid, future in list(schedule.running.items()):
            if not future.done():
                continue
            del schedule.running[uuid]
            outcome = future.result()
            if outcome.state == "done":
                schedule.finished.add(uuid)
            elif outcome.state == "failed":
                schedule.failed.add(uuid)
            elif outcome.state == "wait":
                schedule.wake_at[uuid] = self.clock() + outcome.wait_seconds

    def _prune(self) -> None:
        """Once an hour, forget the tasks that ended more than ``keep_days`` ago."""
        if self.clock() < self._prune_at:
            return
        self._prune_at = self.clock() + PRUNE_EVERY_S
        now = self.context.now().timestamp()
        pruned = prune_finished(self.config.base, keep_days=self.config.keep_days, now=now)
        if pruned:
            days = self.config.keep_days
            logger.info("forgot %d task(s) that ended more than %d days ago", len(pruned), days)

    def _connection_tests(self, tester: ThreadPoolExecutor) -> None:
        """Every poll interval, run the connection tests the portal asked for, beside the tasks."""
        if self.clock() < self._tests_at or (self._tests is not None and not self._tests.done()):
            return
        self._tests_at = self.clock() + self.config.poll_seconds
        self._tests = tester.submit(
            run_requested_tests, self.context.api, self.context.destinations
        )

    def _sleep(self) -> None:
        """Wait for the poll interval, a task's wake time or a freed slot, whichever is first."""
        timeout = self.config.poll_seconds
        if self.schedule.wake_at:
            timeout = min(timeout, max(0.0, min(self.schedule.wake_at.values()) - self.clock()))
        with self._wake:
            if self._stop.is_set() or any(f.done() for f in self.schedule.running.values()):
                return
            self._wake.wait(timeout=max(timeout, 0.05))

    def _notify(self) -> None:
        with self._wake:
            self._wake.notify_all()


def retry_task(base: Path, uuid: str) -> str:
    """Clear a task's error and waits so the running agent takes it up again at once.

    Returns what was done, for the person who asked. Steps already done stay done.
    """
    folder = agent_root(base) / uuid
    if not folder.is_dir():
        return f"task {uuid} has not been started by the agent; nothing to retry"
    state = TaskState(folder)
    stage = state.get("stage")
    restart = state.get("restart_from") == "upload"
    state.update(stage="queued", error="", retry_at=None, attempts={}, restart_from=None)
    failed_step = state.get("failed_step")
    if restart:
        journal = TaskJournal(OrtFolders(base).journal_file(uuid))
        cloud_uuid = cloud_uuid_of(journal, uuid)
        restart_from_upload(journal, cloud_uuid)
        under = "the same UUID" if cloud_uuid == uuid else f"its cloud UUID {cloud_uuid}"
        return f"task {uuid} will be uploaded again under {under} (the cloud no longer knew it)"
    if stage == FAILED:
        return f"task {uuid} will be retried from step {failed_step or 'its first'}"
    return f"task {uuid} will be retried at once (it was: {stage})"
