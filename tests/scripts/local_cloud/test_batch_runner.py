"""The local Batch runner through a real boto3 Batch client, running real processes."""

from __future__ import annotations

import json
import os
import select
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scripts.local_cloud.batch_runner import (
    EXITED,
    TIMED_OUT,
    LocalBatch,
    eventbridge_publisher,
    retry_action,
)
from tests.helpers.emulator_client import emulator_client

REGION = "eu-central-1"
ACCOUNT = "123456789012"
WAIT = 10.0
DONE = ("SUCCEEDED", "FAILED")
FIRST_ATTEMPT = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"]


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@dataclass
class Runner:
    """A started LocalBatch with a queue and a job definition, and a boto3 client on it."""

    batch: LocalBatch
    client: Any
    events: list[dict[str, Any]]
    cwd: Path
    work_dir: Path
    queue_arn: str = ""
    definition_arn: str = ""

    def submit(self, command: list[str] | None = None, name: str = "job", **request: Any) -> str:
        if command is not None:
            overrides = request.setdefault("containerOverrides", {})
            overrides["command"] = command
        request.setdefault("jobQueue", "local-queue")
        request.setdefault("jobDefinition", "local-job")
        return self.client.submit_job(jobName=name, **request)["jobId"]

    def wait(self, job_id: str, statuses: tuple[str, ...] = DONE) -> dict[str, Any]:
        return self.batch.wait_for(job_id, statuses, timeout=WAIT)

    def statuses(self, job_id: str) -> list[str]:
        return [event["status"] for event in self.events if event["jobId"] == job_id]


@pytest.fixture
def make_runner(tmp_path: Path) -> Iterator[Callable[..., Runner]]:
    started: list[LocalBatch] = []

    def make(concurrency: int = 2, **options: Any) -> Runner:
        events: list[dict[str, Any]] = []
        cwd = tmp_path / f"cwd-{len(started)}"
        cwd.mkdir()
        work_dir = tmp_path / f"work-{len(started)}"
        batch = LocalBatch(
            region=REGION,
            account=ACCOUNT,
            publish=events.append,
            job_env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "BASE_ONLY": "base"},
            work_dir=work_dir,
            cwd=cwd,
            concurrency=concurrency,
            **options,
        )
        started.append(batch)
        client = emulator_client(batch.start(), "batch", REGION)
        client.create_compute_environment(computeEnvironmentName="local-ce", type="MANAGED")
        queue_arn = client.create_job_queue(
            jobQueueName="local-queue",
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "local-ce"}],
        )["jobQueueArn"]
        definition_arn = client.register_job_definition(
            jobDefinitionName="local-job",
            type="container",
            containerProperties={
                "image": "local",
                "command": python("raise SystemExit(0)"),
                "environment": [
                    {"name": "FROM_DEFINITION", "value": "definition"},
                    {"name": "OVERRIDDEN", "value": "definition"},
                ],
                "resourceRequirements": [
                    {"type": "VCPU", "value": "1"},
                    {"type": "MEMORY", "value": "512"},
                ],
            },
        )["jobDefinitionArn"]
        return Runner(batch, client, events, cwd, work_dir, queue_arn, definition_arn)

    yield make
    for batch in started:
        batch.stop()


@pytest.fixture
def runner(make_runner: Callable[..., Runner]) -> Runner:
    return make_runner()


def test_a_job_that_exits_0_succeeds_through_every_status(runner: Runner) -> None:
    job_id = runner.submit(
        python("print('hello from the job')"),
        jobQueue=runner.queue_arn,
        jobDefinition=runner.definition_arn,
    )

    job = runner.wait(job_id)

    assert job["status"] == "SUCCEEDED"
    assert runner.statuses(job_id) == [*FIRST_ATTEMPT, "SUCCEEDED"]
    assert job["jobArn"] == f"arn:aws:batch:{REGION}:{ACCOUNT}:job/{job_id}"
    assert job["jobQueue"] == f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/local-queue"
    assert job["jobDefinition"] == f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/local-job:1"
    assert job["createdAt"] <= job["startedAt"] <= job["stoppedAt"]
    assert job["statusReason"] == EXITED
    assert job["platformCapabilities"] == ["EC2"]
    [attempt] = job["attempts"]
    assert attempt["container"]["exitCode"] == 0
    log = runner.work_dir / attempt["container"]["logStreamName"]
    assert log == runner.work_dir / "logs" / job_id / "attempt-1.log"
    assert log.read_text() == "hello from the job\n"
    # What boto3 reads back is what the event carried.
    described = runner.client.describe_jobs(jobs=[job_id])["jobs"][0]
    assert described == runner.events[-1] == job


def test_the_environment_reaches_the_process(make_runner: Callable[..., Runner]) -> None:
    runner = make_runner(command_override=python("raise SystemExit(3)"))
    dump = (
        "import json, os\n"
        "json.dump({'env': dict(os.environ), 'cwd': os.getcwd()}, open('env.json', 'w'))"
    )
    job_id = runner.submit(
        python(dump),
        containerOverrides={
            "environment": [
                {"name": "OVERRIDDEN", "value": "override"},
                {"name": "FROM_OVERRIDE", "value": "override"},
            ],
            "resourceRequirements": [{"type": "VCPU", "value": "4"}],
        },
        tags={"task": "t-1"},
    )

    job = runner.wait(job_id)

    assert job["status"] == "SUCCEEDED"
    seen = json.loads((runner.cwd / "env.json").read_text())
    assert seen["cwd"] == str(runner.cwd)
    env = seen["env"]
    assert env["BASE_ONLY"] == "base"
    assert env["FROM_DEFINITION"] == "definition"
    assert env["OVERRIDDEN"] == "override"
    assert env["FROM_OVERRIDE"] == "override"
    assert env["AWS_BATCH_JOB_ID"] == job_id
    assert env["AWS_BATCH_JOB_ATTEMPT"] == "1"
    assert env["AWS_BATCH_JQ_NAME"] == "local-queue"
    assert env["AWS_BATCH_CE_NAME"] == "local-ce"
    container = job["container"]
    assert {"name": "OVERRIDDEN", "value": "override"} in container["environment"]
    assert "BASE_ONLY" not in {item["name"] for item in container["environment"]}
    assert sorted(container["resourceRequirements"], key=lambda item: item["type"]) == [
        {"type": "MEMORY", "value": "512"},
        {"type": "VCPU", "value": "4"},
    ]
    assert job["tags"] == {"task": "t-1"}


def test_the_command_override_replaces_the_definitions_command(
    make_runner: Callable[..., Runner],
) -> None:
    runner = make_runner(command_override=python("open('ran', 'w').write('override')"))

    job = runner.wait(runner.submit())

    assert job["status"] == "SUCCEEDED"
    assert (runner.cwd / "ran").read_text() == "override"


def test_a_non_zero_exit_fails_the_job(runner: Runner) -> None:
    job_id = runner.submit(python("raise SystemExit(3)"))

    job = runner.wait(job_id)

    assert job["status"] == "FAILED"
    assert job["statusReason"] == EXITED
    assert job["container"]["exitCode"] == 3
    assert "reason" not in job["container"]
    [attempt] = job["attempts"]
    assert attempt["statusReason"] == EXITED
    assert attempt["container"]["exitCode"] == 3
    assert runner.statuses(job_id) == [*FIRST_ATTEMPT, "FAILED"]
    summary = runner.client.list_jobs(jobQueue="local-queue", jobStatus="FAILED")
    assert [item["jobId"] for item in summary["jobSummaryList"]] == [job_id]
    assert summary["jobSummaryList"][0]["container"] == {"exitCode": 3}


def test_a_retryable_exit_runs_the_job_again(runner: Runner) -> None:
    code = (
        "import os, sys\n"
        "if os.path.exists('marker'): sys.exit(0)\n"
        "open('marker', 'w').close(); sys.exit(75)\n"
    )
    job_id = runner.submit(
        python(code),
        retryStrategy={
            "attempts": 2,
            "evaluateOnExit": [
                {"onExitCode": "75", "action": "retry"},
                {"onExitCode": "*", "action": "EXIT"},
            ],
        },
    )

    job = runner.wait(job_id)

    assert job["status"] == "SUCCEEDED"
    assert runner.statuses(job_id) == [*FIRST_ATTEMPT, *FIRST_ATTEMPT[2:], "SUCCEEDED"]
    assert [a["container"]["exitCode"] for a in job["attempts"]] == [75, 0]
    assert job["attempts"][1]["container"]["logStreamName"] == f"logs/{job_id}/attempt-2.log"


def test_an_exit_rule_stops_retrying(runner: Runner) -> None:
    job_id = runner.submit(
        python("raise SystemExit(2)"),
        retryStrategy={"attempts": 3, "evaluateOnExit": [{"onExitCode": "2", "action": "EXIT"}]},
    )

    job = runner.wait(job_id)

    assert job["status"] == "FAILED"
    assert len(job["attempts"]) == 1


def _pid_gone(pid: int, timeout: float) -> bool:
    """Whether ``pid`` has exited within ``timeout`` s, waiting on a pidfd, never polling."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


def test_a_timeout_kills_the_process_group_and_is_not_retried(runner: Runner) -> None:
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "open('child.pid', 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    job_id = runner.submit(
        python(code), timeout={"attemptDurationSeconds": 2}, retryStrategy={"attempts": 3}
    )

    job = runner.wait(job_id)

    assert job["status"] == "FAILED"
    assert job["statusReason"] == TIMED_OUT
    [attempt] = job["attempts"]
    assert attempt["statusReason"] == TIMED_OUT
    assert attempt["container"]["exitCode"] == 128 + 15
    assert _pid_gone(int((runner.cwd / "child.pid").read_text()), timeout=WAIT)


def test_terminating_a_running_job_kills_it(runner: Runner) -> None:
    job_id = runner.submit(python("import time; time.sleep(60)"))
    runner.wait(job_id, ("RUNNING",))

    runner.client.cancel_job(jobId=job_id, reason="cancel leaves a started job alone")
    runner.client.terminate_job(jobId=job_id, reason="stopped by the operator")
    job = runner.wait(job_id)

    assert job["status"] == "FAILED"
    assert job["statusReason"] == "stopped by the operator"
    assert job["isTerminated"] is True
    assert "isCancelled" not in job or job["isCancelled"] is False
    assert len(job["attempts"]) == 1
    assert runner.statuses(job_id) == [*FIRST_ATTEMPT, "FAILED"]


def test_one_at_a_time_and_a_queued_job_cancels_at_once(
    make_runner: Callable[..., Runner],
) -> None:
    runner = make_runner(concurrency=1)
    gate = runner.cwd / "gate"
    os.mkfifo(gate)
    # The first job runs until the test opens the gate, so the others are surely queued.
    first = runner.submit(python("open('gate').read()"), name="first")
    second = runner.submit(python("pass"), name="second")
    third = runner.submit(python("pass"), name="third")
    runner.wait(first, ("RUNNING",))

    runner.client.cancel_job(jobId=third, reason="not needed")
    cancelled = runner.wait(third, ("FAILED",))
    assert runner.batch.describe([second])[0]["status"] == "RUNNABLE"
    gate.open("w").close()
    first_job, second_job = runner.wait(first), runner.wait(second)

    assert first_job["status"] == second_job["status"] == "SUCCEEDED"
    assert second_job["startedAt"] >= first_job["stoppedAt"]
    order = [(event["jobName"], event["status"]) for event in runner.events]
    assert order.index(("second", "STARTING")) > order.index(("first", "SUCCEEDED"))
    assert cancelled["statusReason"] == "not needed"
    assert cancelled["isCancelled"] is True
    assert cancelled["attempts"] == []
    assert runner.statuses(third) == ["SUBMITTED", "PENDING", "RUNNABLE", "FAILED"]


def test_describe_and_list_jobs(runner: Runner) -> None:
    wanted = runner.submit(python("pass"), name="task-abc")
    other = runner.submit(python("pass"), name="task-def")
    runner.wait(wanted)
    runner.wait(other)

    described = runner.client.describe_jobs(jobs=[wanted, "0000-not-a-job"])["jobs"]
    by_name = runner.client.list_jobs(
        jobQueue="local-queue", filters=[{"name": "JOB_NAME", "values": ["task-abc"]}]
    )["jobSummaryList"]
    by_prefix = runner.client.list_jobs(
        jobQueue=runner.queue_arn, filters=[{"name": "JOB_NAME", "values": ["task-*"]}]
    )["jobSummaryList"]
    running = runner.client.list_jobs(jobQueue="local-queue")["jobSummaryList"]

    assert [job["jobId"] for job in described] == [wanted]
    assert [(job["jobId"], job["jobName"]) for job in by_name] == [(wanted, "task-abc")]
    assert {job["jobId"] for job in by_prefix} == {wanted, other}
    assert running == []
    assert [job["jobId"] for job in runner.batch.jobs()] == [wanted, other]


def test_registry_describes_and_revisions(runner: Runner) -> None:
    second = runner.client.register_job_definition(
        jobDefinitionName="local-job",
        type="container",
        containerProperties={"image": "local", "command": python("pass")},
    )

    assert second["revision"] == 2
    latest = runner.client.describe_job_definitions(jobDefinitions=["local-job:2"])
    assert [d["jobDefinitionArn"] for d in latest["jobDefinitions"]] == [second["jobDefinitionArn"]]
    job = runner.wait(runner.submit())
    assert job["jobDefinition"] == second["jobDefinitionArn"]
    [queue] = runner.client.describe_job_queues(jobQueues=[runner.queue_arn])["jobQueues"]
    assert queue["computeEnvironmentOrder"] == [
        {
            "order": 1,
            "computeEnvironment": f"arn:aws:batch:{REGION}:{ACCOUNT}:compute-environment/local-ce",
        }
    ]
    [env] = runner.client.describe_compute_environments()["computeEnvironments"]
    assert env["status"] == "VALID"


def test_bad_requests_raise_client_errors(runner: Runner) -> None:
    with pytest.raises(ClientError) as unknown_queue:
        runner.submit(python("pass"), jobQueue="no-such-queue")
    with pytest.raises(ClientError) as unknown_definition:
        runner.submit(python("pass"), jobDefinition="no-such-definition")
    with pytest.raises(ClientError) as unserved:
        runner.client.create_scheduling_policy(name="fair")

    for raised in (unknown_queue, unknown_definition, unserved):
        assert raised.value.response["Error"]["Code"] == "ClientException"
    assert "no-such-queue" in str(unknown_queue.value)
    assert "not served by the local Batch runner" in str(unserved.value)
    assert runner.batch.jobs() == []


def test_wait_for_names_the_job_when_it_times_out(runner: Runner) -> None:
    job_id = runner.submit(python("import time; time.sleep(60)"))

    with pytest.raises(TimeoutError, match=job_id):
        runner.batch.wait_for(job_id, ("SUCCEEDED",), timeout=0.2)


def test_stop_fails_running_jobs_and_is_idempotent(runner: Runner) -> None:
    job_id = runner.submit(python("import time; time.sleep(60)"))
    runner.wait(job_id, ("RUNNING",))

    runner.batch.stop()
    runner.batch.stop()

    [job] = runner.batch.jobs()
    assert job["status"] == "FAILED"
    assert runner.statuses(job_id)[-1] == "FAILED"


@pytest.mark.parametrize(
    ("rules", "exit_code", "expected"),
    [
        ([{"onExitCode": "75", "action": "RETRY"}], 75, "RETRY"),
        ([{"onExitCode": "7*", "action": "exit"}], 75, "EXIT"),
        ([{"onExitCode": "75", "action": "RETRY"}], 1, None),
        ([{"onStatusReason": "Essential*", "onExitCode": "1", "action": "EXIT"}], 1, "EXIT"),
        ([{"onReason": "CannotPull*", "action": "RETRY"}], 1, None),
        (
            [{"onExitCode": "*", "action": "EXIT"}, {"onExitCode": "1", "action": "RETRY"}],
            1,
            "EXIT",
        ),
    ],
)
def test_retry_rules(rules: list[dict[str, str]], exit_code: int, expected: str | None) -> None:
    assert retry_action(rules, exit_code=exit_code, reason=None, status_reason=EXITED) == expected


def test_eventbridge_publisher_sends_a_batch_state_change() -> None:
    sent: list[dict[str, Any]] = []

    class Events:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            sent.extend(Entries)
            return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}

    detail = {"jobArn": "arn:aws:batch:r:a:job/1", "jobId": "1", "status": "RUNNING"}
    eventbridge_publisher(Events())(detail)

    assert sent == [
        {
            "Source": "aws.batch",
            "DetailType": "Batch Job State Change",
            "Detail": json.dumps(detail),
            "Resources": ["arn:aws:batch:r:a:job/1"],
        }
    ]
