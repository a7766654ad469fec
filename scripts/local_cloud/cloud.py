"""The local cloud: the emulator's services, the local Batch, and the handlers polling queues."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from functions.billing.stripe_secret import with_stripe_secret, write_secret
from functions.core.aws import AwsClients
from functions.core.clock import Clock, system_clock
from functions.core.models import Task, bind_models
from functions.core.settings import Settings
from functions.handlers import api, billing_outbox, billing_reconcile, job_state, submit, sweeper
from functions.handlers.runtime import Dependencies
from functions.work.submit import Hooks
from scripts.images import find_engine
from scripts.local_cloud.api_gateway import LocalApiGateway
from scripts.local_cloud.batch_runner import LocalBatch, eventbridge_publisher
from scripts.local_cloud.container_jobs import ContainerJobs
from scripts.local_cloud.credentials import CredentialStore
from scripts.local_cloud.lambda_runtime import LambdaContext, QueuePoller
from scripts.local_cloud.modes import publish_modes
from scripts.local_cloud.provision import Provisioned, attach, provision
from scripts.local_cloud.resources import Deployment, Resources

logger = logging.getLogger("yarracloud.local_cloud")

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_ACCOUNT = "123456789012"
"""The account id the emulator reports."""
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
WORKER_JOB = (sys.executable, "-m", "recon_image")
"""The job definition's command (``python -m recon_image``) with this interpreter."""


@dataclass
class LocalCloud:
    """The whole cloud on this machine, against an emulator already running at ``endpoint``.

    Parameters
    ----------
    endpoint
        URL of the AWS emulator (see :class:`~scripts.local_cloud.emulator.Emulator`).
    work_dir
        Where job logs and the credential store (``credentials.json``) go.
    worker_command
        The command Batch jobs run: the reconstruction worker unless a test swaps it.
    worker_image
        Run Batch jobs as containers of this image instead (the job definition's
        command, environment, vCPUs and memory, as AWS Batch runs them); see
        :mod:`~scripts.local_cloud.container_jobs`. ``worker_command`` is then unused.
    sweep_seconds
        How often the sweeper and the billing outbox run; never when None (tests call
        :meth:`sweep` and :meth:`drain_billing_outbox`).
    poll
        Whether the queues are polled; tests that drive each delivery themselves call
        ``pollers[queue].poll_once()`` instead.
    attach
        Use the resources already in the emulator (made by ``terraform apply``) instead of
        creating them; only the local Batch's queues and job definition are created.
    """

    endpoint: str
    work_dir: Path
    region: str = "eu-central-1"
    prefix: str = "yarracloud"
    worker_command: Sequence[str] = WORKER_JOB
    worker_image: str | None = None
    batch_concurrency: int = 2
    lambda_concurrency: int = 1
    sweep_seconds: float | None = None
    poll: bool = True
    attach: bool = False
    hooks: Hooks = field(default_factory=Hooks)
    settings_overrides: dict[str, Any] = field(default_factory=dict)
    clock: Clock = system_clock
    """The handlers' time (tests move it to make retries due)."""
    stripe_secret: dict[str, str] | None = None
    """Put into the Stripe secret at start, as ``scripts/admin stripe setup`` does."""

    def __post_init__(self) -> None:
        self.resources = Resources(Deployment(self.prefix, self.region, LOCAL_ACCOUNT))
        self.settings: Settings = self.resources.settings(**self.settings_overrides)
        self.credentials = CredentialStore(Path(self.work_dir) / "credentials.json")
        """The secrets of the access keys the admin command creates; the API gateway reads it."""
        self.batch: LocalBatch | None = None
        self.api: LocalApiGateway | None = None
        self.pollers: dict[str, QueuePoller] = {}
        self.provisioned: Provisioned | None = None
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._sweeper_thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> LocalCloud:
        # A fresh emulator holds no keys: secrets kept from an earlier run are stale.
        self.credentials.path.unlink(missing_ok=True)
        os.environ.update(self.client_env())
        session = boto3.session.Session(region_name=self.region)
        self.batch = LocalBatch(
            region=self.region,
            account=LOCAL_ACCOUNT,
            publish=eventbridge_publisher(session.client("events")),
            job_env=self.job_env(),
            work_dir=self.work_dir,
            cwd=REPO_ROOT,
            concurrency=self.batch_concurrency,
            command_override=None if self.worker_image else list(self.worker_command),
            containers=self._container_jobs(),
        )
        os.environ["AWS_ENDPOINT_URL_BATCH"] = self.batch.start()
        self.clients = AwsClients.create(self.region, session)
        setup = attach if self.attach else provision
        self.provisioned = setup(self.resources, session, batch=self.clients.batch)
        if self.stripe_secret is not None and self.settings.stripe_secret_id:
            write_secret(
                self.clients.secretsmanager, self.settings.stripe_secret_id, self.stripe_secret
            )
        # Read at start, as a function's cold start does.
        self.settings = with_stripe_secret(self.settings, self.clients.secretsmanager)
        bind_models(self.settings)
        self.published_modes = publish_modes()
        self.deps = Dependencies(settings=self.settings, clients=self.clients, clock=self.clock)
        handlers = {
            "submit": submit.build(self.deps, hooks=self.hooks),
            "job_state": job_state.build(self.deps),
        }
        sqs = session.client("sqs")
        for key, spec in self.resources.raw["queues"].items():
            poller = QueuePoller(
                function_name=f"{self.prefix}-{spec['function']}",
                sqs=sqs,
                queue_url=self.provisioned.queue_urls[key],
                handler=handlers[spec["function"]],
                region=self.region,
                account=LOCAL_ACCOUNT,
                batch_size=spec["batch_size"],
                concurrency=self.lambda_concurrency,
                on_invocation=self._notify,
            )
            if self.poll:
                poller.start()
            self.pollers[key] = poller
        self.api = LocalApiGateway(
            make_handler=lambda: api.build(self.deps, hooks=self.hooks),
            credentials=self.credentials,
            iam=session.client("iam"),
            region=self.region,
            account=LOCAL_ACCOUNT,
        )
        self.api.start()
        self._sweep_handler = sweeper.build(self.deps)
        self._outbox_handler = billing_outbox.build(self.deps)
        self._reconcile_handler = billing_reconcile.build(self.deps)
        if self.sweep_seconds:
            self._sweeper_thread = threading.Thread(
                target=self._sweep_loop, daemon=True, name="sweeper"
            )
            self._sweeper_thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for poller in self.pollers.values():
            poller.stop()
        self.pollers.clear()
        if self.api:
            self.api.stop()
        if self.batch:
            self.batch.stop()
        if self._sweeper_thread:
            self._sweeper_thread.join(timeout=30)

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- environments ------------------------------------------------------------------

    def client_env(self) -> dict[str, str]:
        """What a process needs to talk to this cloud as a client (agent, worker, tests)."""
        env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **LOCAL_CREDENTIALS,
        }
        if self.batch:
            env["AWS_ENDPOINT_URL_BATCH"] = self.batch.endpoint
        if self.api:
            env["YC_API_URL"] = self.api.endpoint
        return env

    def job_env(self) -> dict[str, str]:
        """The environment of a Batch job's process, as an instance role would give it.

        A container's holds no more than that: the image brings its own PATH and HOME.
        """
        env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **LOCAL_CREDENTIALS,
        }
        if self.worker_image:
            return env
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "PYTHONPATH": str(REPO_ROOT),
            **env,
        }

    def _container_jobs(self) -> ContainerJobs | None:
        if not self.worker_image:
            return None
        engine = find_engine()
        if engine is None:
            raise RuntimeError(
                f"no container engine (docker or podman) answers here to run {self.worker_image}"
            )
        return ContainerJobs(engine, self.worker_image)

    # -- watching ----------------------------------------------------------------------

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def wait_until(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        """Re-check ``predicate`` after every handler invocation until it is truthy."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
                self._changed.wait(min(remaining, 1.0))

    def wait_for_task(self, task_id: str, statuses: Collection[str], timeout: float = 60) -> Task:
        """The task once its status is one of ``statuses``."""

        def reached() -> Task | None:
            try:
                task = Task.get(task_id, consistent_read=True)
            except Task.DoesNotExist:
                return None
            return task if task.status in statuses else None

        return self.wait_until(reached, timeout, f"task {task_id} to reach {sorted(statuses)}")

    def sweep(self) -> dict:
        """Run the sweeper once, as its schedule would."""
        context = LambdaContext.for_invocation(
            f"{self.prefix}-sweeper", self.region, LOCAL_ACCOUNT, 300
        )
        result = self._sweep_handler(
            {"source": "aws.events", "detail-type": "Scheduled Event"}, context
        )
        self._notify()
        return result

    def drain_billing_outbox(self) -> dict:
        """Run the billing outbox once, as its schedule would."""
        context = LambdaContext.for_invocation(
            f"{self.prefix}-billing_outbox", self.region, LOCAL_ACCOUNT, 300
        )
        result = self._outbox_handler(
            {"source": "aws.events", "detail-type": "Scheduled Event"}, context
        )
        self._notify()
        return result

    def reconcile_billing(self, month: str | None = None) -> dict:
        """Check a month's usage against Stripe's meter (last month by default), as daily."""
        context = LambdaContext.for_invocation(
            f"{self.prefix}-billing_reconcile", self.region, LOCAL_ACCOUNT, 900
        )
        event = {"source": "aws.events", "detail-type": "Scheduled Event"}
        result = self._reconcile_handler({**event, "month": month} if month else event, context)
        self._notify()
        return result

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self.sweep_seconds or 300):
            for run, what in (
                (self.sweep, "sweeper"),
                (self.drain_billing_outbox, "billing outbox"),
            ):
                try:
                    run()
                except Exception:
                    logger.exception("the %s failed; it runs again at its next period", what)
