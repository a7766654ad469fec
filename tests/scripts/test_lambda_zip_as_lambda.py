"""The Lambda package that ``scripts/deploy`` builds, run as Lambda runs it.

The zip is unpacked into an empty folder and every handler Terraform declares is called
from there, in a bare Python of the runtime's version, with the events AWS sends it
(S3 via EventBridge via SQS, a Batch state change via SQS, an API Gateway proxy request,
a schedule), against the local cloud.
"""

from __future__ import annotations

import subprocess
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from functions.core.models import Task
from scripts.deploy import build_lambda_zip, pinned_requirements
from scripts.local_cloud.cloud import LOCAL_ACCOUNT
from tests.helpers.cloud import drain, jobs_of
from tests.helpers.lambda_package import (
    UNZIPPED_LIMIT_BYTES,
    ZIP_LIMIT_BYTES,
    FunctionProcess,
    declared_functions,
    runtime_python,
    scheduled_event,
    top_level_entries,
)

pytestmark = pytest.mark.slow

DECLARED = declared_functions()


def _run(command: Sequence[str]) -> None:
    subprocess.run(list(command), check=True)


@pytest.fixture(scope="session")
def package_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``build/functions.zip`` as ``scripts/deploy`` builds it (here in a temporary folder)."""
    out = tmp_path_factory.mktemp("build") / "functions.zip"
    return build_lambda_zip(out, pinned_requirements(), _run)


@pytest.fixture(scope="session")
def task_root(package_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package unpacked into an empty folder, as Lambda's ``/var/task``."""
    root = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(package_zip) as archive:
        archive.extractall(root)
    return root


@pytest.fixture(scope="session")
def python() -> Path:
    found = runtime_python(DECLARED.python_version)
    if found is None:
        pytest.skip(
            f"Terraform declares python{DECLARED.python_version}, and no Python"
            f" {DECLARED.python_version} is installed here to run the package in"
        )
    return found


def test_the_package_fits_lambdas_limits(package_zip: Path) -> None:
    with zipfile.ZipFile(package_zip) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    zipped = package_zip.stat().st_size
    print(f"Lambda package: {zipped / 2**20:.1f} MiB zipped, {unzipped / 2**20:.1f} MiB unzipped")
    assert zipped <= ZIP_LIMIT_BYTES
    assert unzipped <= UNZIPPED_LIMIT_BYTES


@pytest.fixture
def functions(api_cloud, python: Path, task_root: Path) -> Iterator:
    """A cloud whose queues, API and schedules call the unpacked package's handlers."""
    cloud, clients, uploader, _admin = api_cloud(poll=False)
    # each function's timeout as terraform/modules/functions computes it
    raw = cloud.resources.raw
    timeouts = {"api": 29}
    timeouts |= {
        q["function"]: q["visibility_timeout_seconds"] // 6 for q in raw["queues"].values()
    }
    timeouts |= {
        s["function"]: min(int(s["seconds"] * 0.8), 900) for s in raw["schedules"].values()
    }
    running: dict[str, FunctionProcess] = {}
    for key, handler in DECLARED.handlers.items():
        environment = {
            **cloud.settings.to_env(),
            **cloud.client_env(),
            "POWERTOOLS_SERVICE_NAME": key,
        }
        running[key] = FunctionProcess(
            python=python,
            task_root=task_root,
            name=f"{cloud.prefix}-{key}",
            handler=handler,
            environment=environment,
            timeout_seconds=timeouts[key],
            region=cloud.region,
            account=LOCAL_ACCOUNT,
        )
    for key, spec in raw["queues"].items():
        cloud.pollers[key].handler = running[spec["function"]]
    cloud.api.make_handler = lambda: running["api"]
    yield cloud, clients, uploader, running
    for process in running.values():
        process.stop()


def test_every_declared_handler_runs_from_the_unpacked_package(functions, task_root) -> None:
    cloud, clients, uploader, running = functions
    assert sorted(running) == [
        "api",
        "billing_outbox",
        "billing_reconcile",
        "job_state",
        "submit",
        "sweeper",
    ]
    task_id = str(uuid.uuid4())

    # S3 "Object Created" → EventBridge → the submit queue → the package's submit handler
    uploader.task("alice", task_id)
    drain(cloud, "submit")
    (job,) = jobs_of(cloud, task_id)

    # the job runs; its "Batch Job State Change" events → the job-state queue → job_state
    cloud.batch.wait_for(job["jobId"], {"SUCCEEDED"}, timeout=120)
    drain(cloud, "job_state")
    assert Task.get(task_id, consistent_read=True).status == "SUCCEEDED"

    # an API Gateway proxy request, signed as the Yarra client signs it → api
    answer = clients["alice"].post("jobs", [task_id])
    assert answer.status == 200, answer.body
    assert answer.body[task_id]["batch_info"]["status"] == "SUCCEEDED"

    # the schedules' events → sweeper and the billing functions
    for key, schedule in cloud.resources.raw["schedules"].items():
        rule = schedule["name"].format(prefix=cloud.prefix)
        result = running[schedule["function"]](scheduled_event(rule, cloud.region, LOCAL_ACCOUNT))
        assert isinstance(result, dict), (key, result)

    imported = {
        name.split("/")[0].split(".")[0]
        for process in running.values()
        for name in process.imported_files()
    }
    unused = sorted(top_level_entries(task_root) - imported)
    print(f"The package carries {len(unused)} top-level modules no handler imports: {unused}")
    assert "functions" in imported
