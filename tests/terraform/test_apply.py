"""The region root applied for each region, and the global root, to the emulator; used,
planned again, destroyed.

The tests of this module run in order on one deployment: apply (the fixture), a task through
what Terraform made, the local cloud's view of the same description, a second plan, destroy.
The emulator keeps what Terraform reads back as AWS does (``fidelity=True``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from scripts.local_cloud.cloud import LOCAL_ACCOUNT, LocalCloud
from scripts.local_cloud.emulator import Emulator
from scripts.local_cloud.resources import Deployment, Resources
from scripts.local_cloud.seed import DEMO_MODE, publish_mode, seed_site
from tests.helpers.cloud import Uploader
from tests.helpers.emulator_client import emulator_client
from tests.helpers.inspect_job import INSPECT_JOB
from tests.terraform.cloud_state import site_user_policy, snapshot
from tests.terraform.terraform_cli import (
    GLOBAL_ROOT,
    REGION_ROOT,
    REGIONS,
    THROWAWAY,
    Terraform,
    changed_attributes,
    copy_terraform,
    functions_zip,
    make_terraform,
    use_emulator,
)

pytestmark = pytest.mark.slow

PREFIX = "yarracloud"
ROOTS = (*REGIONS, GLOBAL_ROOT)
"""Each region's apply of the region root, and the global root's."""
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}

T = TypeVar("T")


def in_parallel(fn: Callable[[str], T], items: tuple[str, ...]) -> dict[str, T]:
    with ThreadPoolExecutor(len(items)) as pool:
        return dict(zip(items, pool.map(fn, items), strict=True))


@dataclass
class Deployed:
    emulator: Emulator
    roots: dict[str, Terraform]
    variables: dict[str, list[str]]
    work: Path


@pytest.fixture(scope="module")
def deployed(terraform_cli, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    binary, mirror = terraform_cli
    work = tmp_path_factory.mktemp("terraform")
    copy = copy_terraform(work)
    package = functions_zip(work / "functions.zip")
    with Emulator(fidelity=True) as emulator:
        acm = emulator_client(emulator.endpoint, "acm")
        certificate = acm.request_certificate(DomainName="portal.example.test")["CertificateArn"]
        env = {**CREDENTIALS, "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": emulator.endpoint}
        use_emulator(copy, REGION_ROOT)
        use_emulator(copy, GLOBAL_ROOT)
        roots = {r: make_terraform(binary, mirror, copy, REGION_ROOT, env, r) for r in REGIONS}
        roots[GLOBAL_ROOT] = make_terraform(binary, mirror, copy, GLOBAL_ROOT, env)
        variables = {root: terraform.variables() for root, terraform in roots.items()}
        for region in REGIONS:
            values = THROWAWAY | {"lambda_zip": str(package)}
            if region == "us-east-1":
                values["portal_certificate_arn"] = certificate
            variables[region] = roots[region].variables(values)
        for terraform in roots.values():  # one at a time: the regions share one lock file
            terraform.init()
        in_parallel(
            lambda root: roots[root].run(
                "apply", "-auto-approve", "-no-color", "-parallelism=20", *variables[root]
            ),
            ROOTS,
        )
        yield Deployed(emulator, roots, variables, work)


def test_a_task_runs_to_succeeded_on_what_terraform_made(deployed: Deployed):
    cloud = LocalCloud(
        endpoint=deployed.emulator.endpoint,
        work_dir=deployed.work / "cloud",
        region="us-east-1",
        attach=True,
        worker_command=INSPECT_JOB,
    )
    with cloud:
        publish_mode(DEMO_MODE["mode_id"], DEMO_MODE["client_config"])
        seed_site(
            "site-a",
            "Site A",
            ["alice"],
            {"demo_fft": {"vcpus": 2, "memory_mib": 2048, "spot": True, "timeout_seconds": 600}},
        )
        task_id = str(uuid.uuid4())
        Uploader(cloud).task("alice", task_id)
        task = cloud.wait_for_task(task_id, {"SUCCEEDED", "FAILED"}, timeout=120)
    assert task.status == "SUCCEEDED", task.error
    assert task.job_id


@pytest.mark.parametrize("region", REGIONS)
def test_the_local_cloud_and_terraform_make_the_same_resources(
    deployed: Deployed, tmp_path: Path, region: str
):
    made_by_terraform = snapshot(deployed.emulator.endpoint, region, PREFIX)
    terraform_policy = site_user_policy(deployed.emulator.endpoint, f"{PREFIX}-site-users")

    with Emulator() as fresh, LocalCloud(fresh.endpoint, tmp_path, region=region, poll=False):
        made_locally = snapshot(fresh.endpoint, region, PREFIX)
        local_policy = site_user_policy(fresh.endpoint, f"{PREFIX}-site-users")

    assert made_by_terraform == made_locally
    resources = Resources(Deployment(PREFIX, region, LOCAL_ACCOUNT))
    assert set(made_locally["queues"]) == {
        *(resources.queue(k) for k in resources.raw["queues"]),
        *(resources.resolve(q["dlq"]) for q in resources.raw["queues"].values()),
    }
    assert len(made_locally["tables"]) == len(resources.raw["tables"])
    suffix = "".join(part.title() for part in region.split("-"))
    in_region = [
        {**s, "Sid": s["Sid"].removesuffix(suffix)}
        for s in terraform_policy["Statement"]
        if s["Sid"].endswith(suffix)
    ]
    assert in_region == local_policy["Statement"]


def test_a_second_plan_changes_nothing(deployed: Deployed):
    def plan(root: str) -> tuple[int, dict[str, Any]]:
        terraform = deployed.roots[root]
        plan_file = f"second-{root}.plan"  # the regions plan side by side in one root folder
        result = terraform.run(
            "plan",
            "-detailed-exitcode",
            "-no-color",
            "-parallelism=20",
            f"-out={plan_file}",
            *deployed.variables[root],
            check=False,
        )
        assert result.returncode in (0, 2), result.stdout[-3000:] + result.stderr[-3000:]
        return result.returncode, terraform.show_json(plan_file)

    plans = in_parallel(plan, ROOTS)
    changes = []
    for root, (_, planned) in plans.items():
        for change in planned.get("resource_changes", []):
            actions = change["change"]["actions"]
            if actions in (["no-op"], ["read"]):
                continue
            if actions != ["update"]:
                changes.append(f"{root}: {change['address']} would be {'/'.join(actions)}")
                continue
            for attribute in changed_attributes(change["change"]) or ["(unknown after apply)"]:
                changes.append(f"{root}: {change['address']}.{attribute} would change")
    assert changes == []
    assert {root: code for root, (code, _) in plans.items()} == dict.fromkeys(ROOTS, 0)


def destroy(terraform: Terraform, variables: list[str]) -> None:
    """``terraform destroy``; once more when the emulator lost track of a deleted object.

    Under load the emulator can answer a delete it already carried out with NotFound
    (the SDK's retry of a request whose answer was late); the second destroy then has
    that object gone from its state's view. Any other failure fails the test.
    """
    args = ("destroy", "-auto-approve", "-no-color", "-parallelism=20", *variables)
    result = terraform.run(*args, check=False)
    if result.returncode != 0:
        assert "NotFound" in result.stdout + result.stderr, result.stdout[-3000:]
        terraform.run(*args)


def test_destroy_removes_everything(deployed: Deployed):
    in_parallel(lambda root: destroy(deployed.roots[root], deployed.variables[root]), ROOTS)
    endpoint = deployed.emulator.endpoint
    for region in REGIONS:
        assert snapshot(endpoint, region, PREFIX) == {
            "buckets": {},
            "queues": {},
            "rules": {},
            "tables": {},
            "secrets": {},
        }
        assert emulator_client(endpoint, "lambda", region).list_functions()["Functions"] == []
    groups = emulator_client(endpoint, "iam").list_groups()["Groups"]
    assert [g for g in groups if g["GroupName"].startswith(PREFIX)] == []
