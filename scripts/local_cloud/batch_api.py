"""AWS Batch's API for the local Batch runner: the wire format and the registry.

boto3 posts each Batch operation as a JSON body to its own path
(``POST /v1/submitjob``); answers are JSON, and errors are a 4xx status with
the error code in ``__type`` and ``x-amzn-ErrorType``, which botocore turns
into ``botocore.exceptions.ClientError``.

``BatchApi`` answers the operations the handlers and the provisioning call: it
keeps compute environments, job queues and job definitions itself, resolves a
SubmitJob into a ``JobSpec`` and leaves the jobs to the runner (``Jobs``).
Array jobs, multi-node jobs, job dependencies and EKS/ECS properties are
refused with ``ClientException``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

logger = logging.getLogger("yarracloud.local_batch")

Dispatch = Callable[[str, dict[str, Any]], dict[str, Any]]
"""Runs one operation (AWS's name, e.g. ``"SubmitJob"``) on a request body."""

ROUTES: dict[str, str] = {
    f"/v1/{operation.lower()}": operation
    for operation in (
        "CreateComputeEnvironment",
        "DescribeComputeEnvironments",
        "CreateJobQueue",
        "DescribeJobQueues",
        "RegisterJobDefinition",
        "DescribeJobDefinitions",
        "SubmitJob",
        "DescribeJobs",
        "ListJobs",
        "TerminateJob",
        "CancelJob",
    )
}
"""Request path → operation, for the operations the local runner serves."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_UNSERVED_SUBMIT_FIELDS = (
    "arrayProperties",
    "dependsOn",
    "nodeOverrides",
    "eksPropertiesOverride",
    "ecsPropertiesOverride",
)


class BatchClientError(Exception):
    """A request AWS Batch would refuse with ``ClientException`` (HTTP 400)."""


def not_served(what: str) -> BatchClientError:
    """The error for a part of the Batch API the local runner does not serve."""
    return BatchClientError(f"{what} is not served by the local Batch runner")


def matches(pattern: str, value: str) -> bool:
    """AWS Batch's patterns: an exact value, or a prefix when the pattern ends in ``*``."""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


def prune(value: Any) -> Any:
    """Copy ``value`` leaving out None fields, as AWS leaves out fields it has no value for."""
    if isinstance(value, dict):
        return {key: prune(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [prune(item) for item in value]
    return value


@dataclass(frozen=True)
class JobSpec:
    """What a SubmitJob asks for, with its queue, definition and overrides resolved."""

    name: str
    queue_name: str
    queue_arn: str
    compute_environment: str
    definition_arn: str
    container_properties: Mapping[str, Any]
    parameters: Mapping[str, str]
    command: Sequence[str]
    environment: Sequence[Mapping[str, str]]
    resources: Sequence[Mapping[str, str]]
    retry_strategy: Mapping[str, Any] | None
    timeout: Mapping[str, Any] | None
    tags: Mapping[str, str]
    propagate_tags: bool
    platform_capabilities: Sequence[str]


class Jobs(Protocol):
    """The runner's side: where jobs live once submitted."""

    def submit(self, spec: JobSpec) -> dict[str, str]: ...

    def describe(self, job_ids: Iterable[str]) -> list[dict[str, Any]]: ...

    def jobs(self) -> list[dict[str, Any]]: ...

    def stop_job(self, job_id: str, reason: str, *, terminate: bool) -> None: ...


class BatchApi:
    """Answers Batch operations by name; ``handle`` is what the HTTP server calls.

    Parameters
    ----------
    jobs
        The runner that keeps and runs submitted jobs.
    arn_prefix
        ``arn:aws:batch:{region}:{account}``.
    command_override
        Replaces a job definition's command; a submission's
        ``containerOverrides.command`` still wins.
    """

    def __init__(
        self, jobs: Jobs, *, arn_prefix: str, command_override: Sequence[str] | None = None
    ) -> None:
        self._jobs = jobs
        self._arn_prefix = arn_prefix
        self._command_override = list(command_override) if command_override else None
        self._lock = threading.Lock()
        self._compute_envs: dict[str, dict[str, Any]] = {}
        self._queues: dict[str, dict[str, Any]] = {}
        self._definitions: dict[str, list[dict[str, Any]]] = {}
        self._operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateComputeEnvironment": self._create_compute_environment,
            "DescribeComputeEnvironments": self._describe_compute_environments,
            "CreateJobQueue": self._create_job_queue,
            "DescribeJobQueues": self._describe_job_queues,
            "RegisterJobDefinition": self._register_job_definition,
            "DescribeJobDefinitions": self._describe_job_definitions,
            "SubmitJob": self._submit_job,
            "DescribeJobs": self._describe_jobs,
            "ListJobs": self._list_jobs,
            "TerminateJob": self._terminate_job,
            "CancelJob": self._cancel_job,
        }

    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        """Run one Batch operation (AWS's name) on its JSON request."""
        handler = self._operations.get(operation)
        if handler is None:
            raise not_served(operation)
        return handler(request)

    # -- compute environments, queues, definitions ---------------------------

    def _create_compute_environment(self, request: dict[str, Any]) -> dict[str, Any]:
        name = _valid_name(_required(request, "computeEnvironmentName"))
        arn = f"{self._arn_prefix}:compute-environment/{name}"
        with self._lock:
            if name in self._compute_envs:
                raise BatchClientError(f"Compute environment {name} already exists.")
            self._compute_envs[name] = prune(
                {
                    "computeEnvironmentName": name,
                    "computeEnvironmentArn": arn,
                    "type": _required(request, "type"),
                    "state": request.get("state") or "ENABLED",
                    "status": "VALID",
                    "statusReason": "ComputeEnvironment Healthy",
                    "computeResources": request.get("computeResources"),
                    "serviceRole": request.get("serviceRole"),
                    "tags": request.get("tags"),
                    "containerOrchestrationType": "ECS",
                    "uuid": str(uuid.uuid4()),
                }
            )
        return {"computeEnvironmentName": name, "computeEnvironmentArn": arn}

    def _describe_compute_environments(self, request: dict[str, Any]) -> dict[str, Any]:
        wanted = request.get("computeEnvironments")
        with self._lock:
            found = [
                prune(env)
                for env in self._compute_envs.values()
                if not wanted
                or env["computeEnvironmentName"] in wanted
                or env["computeEnvironmentArn"] in wanted
            ]
        return _page(found, request, "computeEnvironments")

    def _create_job_queue(self, request: dict[str, Any]) -> dict[str, Any]:
        name = _valid_name(_required(request, "jobQueueName"))
        arn = f"{self._arn_prefix}:job-queue/{name}"
        with self._lock:
            if name in self._queues:
                raise BatchClientError(f"Job queue {name} already exists.")
            order = [
                {"order": item["order"], "computeEnvironment": self._compute_env(item)}
                for item in request.get("computeEnvironmentOrder") or ()
            ]
            if not order:
                raise BatchClientError("A job queue needs at least one compute environment.")
            self._queues[name] = prune(
                {
                    "jobQueueName": name,
                    "jobQueueArn": arn,
                    "state": request.get("state") or "ENABLED",
                    "status": "VALID",
                    "statusReason": "JobQueue Healthy",
                    "priority": _required(request, "priority"),
                    "computeEnvironmentOrder": order,
                    "schedulingPolicyArn": request.get("schedulingPolicyArn"),
                    "jobStateTimeLimitActions": request.get("jobStateTimeLimitActions"),
                    "tags": request.get("tags"),
                }
            )
        return {"jobQueueName": name, "jobQueueArn": arn}

    def _describe_job_queues(self, request: dict[str, Any]) -> dict[str, Any]:
        wanted = request.get("jobQueues")
        with self._lock:
            found = [
                prune(q)
                for q in self._queues.values()
                if not wanted or q["jobQueueName"] in wanted or q["jobQueueArn"] in wanted
            ]
        return _page(found, request, "jobQueues")

    def _register_job_definition(self, request: dict[str, Any]) -> dict[str, Any]:
        name = _valid_name(_required(request, "jobDefinitionName"))
        if _required(request, "type") != "container":
            raise not_served(f"A job definition of type {request['type']}")
        if not request.get("containerProperties"):
            raise BatchClientError("containerProperties is required for a container job.")
        with self._lock:
            revisions = self._definitions.setdefault(name, [])
            revision = len(revisions) + 1
            arn = f"{self._arn_prefix}:job-definition/{name}:{revision}"
            revisions.append(
                prune(
                    {
                        "jobDefinitionName": name,
                        "jobDefinitionArn": arn,
                        "revision": revision,
                        "status": "ACTIVE",
                        "type": "container",
                        "parameters": request.get("parameters"),
                        "schedulingPriority": request.get("schedulingPriority"),
                        "containerProperties": request["containerProperties"],
                        "retryStrategy": request.get("retryStrategy"),
                        "timeout": request.get("timeout"),
                        "tags": request.get("tags"),
                        "propagateTags": request.get("propagateTags"),
                        "platformCapabilities": request.get("platformCapabilities") or ["EC2"],
                        "containerOrchestrationType": "ECS",
                    }
                )
            )
        return {"jobDefinitionName": name, "jobDefinitionArn": arn, "revision": revision}

    def _describe_job_definitions(self, request: dict[str, Any]) -> dict[str, Any]:
        refs = request.get("jobDefinitions")
        with self._lock:
            found = [
                prune(definition)
                for revisions in self._definitions.values()
                for definition in revisions
                if (
                    not refs
                    or any(_names_definition(ref, definition["jobDefinitionArn"]) for ref in refs)
                )
                and request.get("jobDefinitionName") in (None, definition["jobDefinitionName"])
                and request.get("status") in (None, definition["status"])
            ]
        return _page(found, request, "jobDefinitions")

    # -- jobs ------------------------------------------------------------------

    def _submit_job(self, request: dict[str, Any]) -> dict[str, Any]:
        name = _valid_name(_required(request, "jobName"))
        for key in _UNSERVED_SUBMIT_FIELDS:
            if request.get(key):
                raise not_served(key)
        with self._lock:
            queue = self._queue(_required(request, "jobQueue"))
            definition = self._definition(_required(request, "jobDefinition"))
        properties = definition["containerProperties"]
        overrides = request.get("containerOverrides") or {}
        parameters = {**definition.get("parameters", {}), **(request.get("parameters") or {})}
        command = (
            overrides.get("command") or self._command_override or properties.get("command") or []
        )
        if not command:
            raise BatchClientError(
                f"Job definition {definition['jobDefinitionArn']} has no command to run locally."
            )
        resources = {**_resources(properties), **_resources(overrides)}
        propagate = bool(request.get("propagateTags", definition.get("propagateTags", False)))
        first = min(queue["computeEnvironmentOrder"], key=lambda item: item["order"])
        spec = JobSpec(
            name=name,
            queue_name=queue["jobQueueName"],
            queue_arn=queue["jobQueueArn"],
            compute_environment=first["computeEnvironment"].rsplit("/", 1)[-1],
            definition_arn=definition["jobDefinitionArn"],
            container_properties=properties,
            parameters=parameters,
            command=[_substitute(arg, parameters) for arg in command],
            environment=_merge_named(properties.get("environment"), overrides.get("environment")),
            resources=[{"type": kind, "value": value} for kind, value in resources.items()],
            retry_strategy=request.get("retryStrategy") or definition.get("retryStrategy"),
            timeout=request.get("timeout") or definition.get("timeout"),
            tags={
                **(definition.get("tags", {}) if propagate else {}),
                **(request.get("tags") or {}),
            },
            propagate_tags=propagate,
            platform_capabilities=definition["platformCapabilities"],
        )
        return self._jobs.submit(spec)

    def _describe_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        ids = _required(request, "jobs")
        if len(ids) > 100:
            raise BatchClientError("DescribeJobs takes at most 100 job IDs.")
        return {"jobs": self._jobs.describe(ids)}

    def _list_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        """ListJobs as AWS: one filter, or one status (RUNNING when none); newest first."""
        if request.get("arrayJobId") or request.get("multiNodeJobId"):
            raise not_served("Listing array and multi-node jobs")
        if not request.get("jobQueue"):
            raise BatchClientError("A job queue, array job ID or multi-node job ID is required.")
        filters = request.get("filters") or []
        if len(filters) > 1:
            raise BatchClientError("Only one filter can be used at a time.")
        with self._lock:
            queue_arn = self._queue(request["jobQueue"])["jobQueueArn"]
        jobs = [job for job in self._jobs.jobs() if job["jobQueue"] == queue_arn]
        if filters:
            jobs = [job for job in jobs if _passes(job, filters[0])]
        else:
            jobs = [job for job in jobs if job["status"] == (request.get("jobStatus") or "RUNNING")]
        jobs.sort(key=lambda job: job["createdAt"], reverse=True)
        return _page([_summary(job) for job in jobs], request, "jobSummaryList")

    def _terminate_job(self, request: dict[str, Any]) -> dict[str, Any]:
        self._jobs.stop_job(
            _required(request, "jobId"), _required(request, "reason"), terminate=True
        )
        return {}

    def _cancel_job(self, request: dict[str, Any]) -> dict[str, Any]:
        self._jobs.stop_job(
            _required(request, "jobId"), _required(request, "reason"), terminate=False
        )
        return {}

    # -- look-ups (callers hold _lock) ----------------------------------------

    def _compute_env(self, item: Mapping[str, Any]) -> str:
        ref = item["computeEnvironment"]
        for env in self._compute_envs.values():
            if ref in (env["computeEnvironmentName"], env["computeEnvironmentArn"]):
                return env["computeEnvironmentArn"]
        raise BatchClientError(f"Compute environment {ref} does not exist.")

    def _queue(self, ref: str) -> dict[str, Any]:
        for queue in self._queues.values():
            if ref in (queue["jobQueueName"], queue["jobQueueArn"]):
                return queue
        raise BatchClientError(f"Job queue {ref} does not exist.")

    def _definition(self, ref: str) -> dict[str, Any]:
        """The job definition a SubmitJob names: by ARN, name:revision, or name (latest)."""
        name, _, revision = ref.split(":job-definition/", 1)[-1].partition(":")
        active = [d for d in self._definitions.get(name, ()) if d["status"] == "ACTIVE"]
        if revision:
            active = [d for d in active if str(d["revision"]) == revision]
        if not active:
            raise BatchClientError(f"Job definition {ref} does not exist.")
        return active[-1]


def _required(request: Mapping[str, Any], key: str) -> Any:
    if request.get(key) in (None, ""):
        raise BatchClientError(f"'{key}' is a required field")
    return request[key]


def _valid_name(name: str) -> str:
    if not _NAME.match(name):
        raise BatchClientError(
            f"{name!r} is not a valid name: up to 128 letters, digits, hyphens and "
            "underscores, starting with a letter or digit."
        )
    return name


def _names_definition(ref: str, arn: str) -> bool:
    """Whether ``ref`` (ARN, name:revision or name; may end in ``*``) names the definition."""
    name_revision = arn.split(":job-definition/", 1)[-1]
    forms = (arn, name_revision, name_revision.partition(":")[0])
    return any(matches(ref, form) for form in forms)


def _passes(job: Mapping[str, Any], rule: Mapping[str, Any]) -> bool:
    """Whether a described job passes a ListJobs filter."""
    values = rule.get("values") or []
    name = rule.get("name")
    if name == "JOB_NAME":
        return any(matches(value, job["jobName"]) for value in values)
    if name == "JOB_DEFINITION":
        return any(_names_definition(value, job["jobDefinition"]) for value in values)
    if name in ("BEFORE_CREATED_AT", "AFTER_CREATED_AT"):
        try:
            limit = int(values[0])
        except (IndexError, ValueError):
            raise BatchClientError(f"{name} takes one time in ms since the epoch.") from None
        created = job["createdAt"]
        return created < limit if name == "BEFORE_CREATED_AT" else created > limit
    raise not_served(f"The ListJobs filter {name}")


def _summary(job: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "jobArn",
        "jobId",
        "jobName",
        "createdAt",
        "status",
        "statusReason",
        "startedAt",
        "stoppedAt",
        "jobDefinition",
        "isCancelled",
        "isTerminated",
    )
    summary = {key: job[key] for key in keys if key in job}
    container = job.get("container", {})
    summary["container"] = {k: container[k] for k in ("exitCode", "reason") if k in container}
    return summary


def _merge_named(*lists: Iterable[Mapping[str, str]] | None) -> list[dict[str, str]]:
    """Merge name/value lists; a later list wins for the same name."""
    merged: dict[str, str] = {}
    for items in lists:
        for item in items or ():
            merged[item["name"]] = item["value"]
    return [{"name": name, "value": value} for name, value in merged.items()]


def _resources(spec: Mapping[str, Any]) -> dict[str, str]:
    """VCPU/MEMORY/GPU by type, from ``resourceRequirements`` or the older vcpus/memory."""
    found: dict[str, str] = {}
    if spec.get("vcpus") is not None:
        found["VCPU"] = str(spec["vcpus"])
    if spec.get("memory") is not None:
        found["MEMORY"] = str(spec["memory"])
    for item in spec.get("resourceRequirements") or ():
        found[item["type"]] = item["value"]
    return found


def _substitute(arg: str, parameters: Mapping[str, str]) -> str:
    """Fill ``Ref::name`` placeholders in a command argument, as AWS Batch does."""
    for key, value in parameters.items():
        arg = arg.replace(f"Ref::{key}", value)
    return arg


def _page(items: list[Any], request: Mapping[str, Any], key: str) -> dict[str, Any]:
    try:
        start = int(request.get("nextToken") or 0)
    except ValueError:
        raise BatchClientError("The nextToken is not valid.") from None
    size = int(request.get("maxResults") or 100)
    answer: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        answer["nextToken"] = str(start + size)
    return answer


# -- HTTP ----------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], dispatch: Dispatch) -> None:
        super().__init__(address, _Handler)
        self.dispatch = dispatch


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        operation = ROUTES.get(self.path.split("?", 1)[0].rstrip("/").lower())
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if operation is None:
            self._error(str(not_served(f"{self.command} {self.path}")))
            return
        try:
            request = json.loads(raw) if raw.strip() else {}
            if not isinstance(request, dict):
                raise BatchClientError("The request body must be a JSON object.")
            self._send(HTTPStatus.OK, self.server.dispatch(operation, request))
        except json.JSONDecodeError as error:
            self._error(f"The request body is not JSON: {error}")
        except BatchClientError as error:
            self._error(str(error))
        except Exception as error:
            logger.exception("the local Batch runner failed on %s", operation)
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"__type": "ServerException", "message": f"{operation} failed: {error}"},
                error_type="ServerException",
            )

    def do_GET(self) -> None:
        self._error(str(not_served(f"{self.command} {self.path}")))

    do_PUT = do_DELETE = do_GET

    def _error(self, message: str) -> None:
        self._send(
            HTTPStatus.BAD_REQUEST,
            {"__type": "ClientException", "message": message},
            error_type="ClientException",
        )

    def _send(self, status: HTTPStatus, body: dict[str, Any], error_type: str = "") -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the per-request access log out of the output."""


class BatchHttpServer:
    """Serves ``dispatch`` over HTTP on 127.0.0.1, on a port the OS hands out."""

    def __init__(self, dispatch: Dispatch) -> None:
        self._server = _Server(("127.0.0.1", 0), dispatch)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how soon stop() is heard
            name="local-batch-http",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        """Start serving in a daemon thread; return the endpoint URL."""
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
