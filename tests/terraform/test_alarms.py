"""No alarm watches a metric nobody emits, and each has a runbook entry.

Tasks run through the local cloud (one fails), the sweeper and the billing outbox run once,
and every EMF record the handlers print is collected. Each alarm of the planned us-east-1
root must watch one of those metrics, or an AWS-native metric of the table below, with a
sane statistic, period and threshold.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from typing import Any

import pytest

from functions.billing.meter_errors import EVENTS, MeterErrorReport, record
from tests.helpers.cloud import task_file_text
from tests.terraform.terraform_cli import (
    REGION_ROOT,
    REPO_ROOT,
    THROWAWAY,
    copy_terraform,
    functions_zip,
    make_terraform,
    planned_resources,
    use_emulator,
)

pytestmark = pytest.mark.slow

RUNBOOK = REPO_ROOT / "docs" / "runbook.md"
FAILING_PARAM = "7"
WORKER = (
    sys.executable,
    "-c",
    "import os, runpy, sys\n"
    f"if os.environ.get('YC_PARAM') == '{FAILING_PARAM}':\n"
    "    sys.exit(70)\n"
    "runpy.run_module('tests.helpers.inspect_job', run_name='__main__')",
)
"""The inspecting job, failing with the worker's internal-error code for one task."""

AWS_METRICS = {
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): {"QueueName"},
    ("AWS/Lambda", "Errors"): {"FunctionName"},
    ("AWS/Lambda", "Throttles"): {"FunctionName"},
    ("AWS/ApiGateway", "5XXError"): {"ApiName", "Stage"},
    ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"): {"LoadBalancer"},
    ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"): {"LoadBalancer"},
    ("AWS/ApplicationELB", "UnHealthyHostCount"): {"TargetGroup", "LoadBalancer"},
}
"""AWS's own metrics and their dimensions, as CloudWatch's documentation names them."""
NAMED_AFTER_APPLY = (
    "-target=module.stack.module.portal[0].aws_lb.portal",
    "-target=module.stack.module.portal[0].aws_lb_target_group.portal",
)
"""What the load balancer's alarms name by a value AWS gives (arn_suffix): made before planning."""
STATISTICS = {"Count": {"Sum"}, "Seconds": {"Maximum"}}
"""What a sane alarm aggregates, by the unit the handlers emit."""
PERIODS = {60, 300, 900, 3600}


def emitted_metrics(output: str) -> dict[tuple[str, str, frozenset], str]:
    """(namespace, name, dimensions) => unit of every EMF record in ``output``."""
    found = {}
    for line in output.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        record = json.loads(line)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((d, record[d]) for d in dimension_set)
                for metric in directive["Metrics"]:
                    key = (directive["Namespace"], metric["Name"], dimensions)
                    found[key] = metric.get("Unit", "None")
    return found


@pytest.fixture
def metrics(seeded_cloud, capfd) -> dict[tuple[str, str, frozenset], str]:
    cloud, upload = seeded_cloud(worker_command=WORKER)
    capfd.readouterr()
    ok, failing = str(uuid.uuid4()), str(uuid.uuid4())
    upload.task("alice", ok)
    upload.raw("alice", failing)
    text = task_file_text(failing, 4096).replace("ParamValue=0", f"ParamValue={FAILING_PARAM}")
    upload.task_file("alice", failing, text)
    assert cloud.wait_for_task(ok, {"SUCCEEDED", "FAILED"}).status == "SUCCEEDED"
    assert cloud.wait_for_task(failing, {"SUCCEEDED", "FAILED"}).status == "FAILED"
    cloud.sweep()
    cloud.drain_billing_outbox()
    cloud.reconcile_billing()
    # What the portal's /stripe/meter-errors records for each report Stripe sends
    # (tests/portal_flask/test_billing.py drives it through the Stripe stand-in).
    record(
        MeterErrorReport("evt_1", EVENTS[0], "mtr_1", "", "", 1, {"no_meter": 1}),
        cloud.settings.metrics_namespace,
    )
    return emitted_metrics(capfd.readouterr().out)


@pytest.fixture(scope="module")
def planned(terraform_cli, emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    binary, mirror = terraform_cli
    tmp_path = tmp_path_factory.mktemp("alarms")
    copy = copy_terraform(tmp_path)
    use_emulator(copy, REGION_ROOT)
    env = {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_ENDPOINT_URL": emulator.endpoint,
    }
    terraform = make_terraform(binary, mirror, copy, REGION_ROOT, env, "us-east-1")
    terraform.init()
    variables = terraform.variables(
        {
            "lambda_zip": str(functions_zip(tmp_path / "functions.zip")),
            "portal_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/planned",
            **THROWAWAY,
        }
    )
    terraform.run("apply", "-auto-approve", "-no-color", *NAMED_AFTER_APPLY, *variables)
    terraform.run("plan", "-no-color", "-out=alarms.plan", *variables)
    return terraform.show_json("alarms.plan")


def _watched(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads: its own, or each of its metric queries'."""
    if alarm.get("metric_name"):
        return [alarm]
    return [
        {**query["metric"][0], "statistic": query["metric"][0]["stat"]}
        for query in alarm["metric_query"]
        if query.get("metric")
    ]


def test_every_alarm_watches_an_emitted_or_documented_metric(metrics, planned):
    alarms = [r["values"] for r in planned_resources(planned, "aws_cloudwatch_metric_alarm")]
    functions = {
        r["values"]["function_name"] for r in planned_resources(planned, "aws_lambda_function")
    }
    queues = {r["values"]["name"] for r in planned_resources(planned, "aws_sqs_queue")}
    apis = {r["values"]["name"] for r in planned_resources(planned, "aws_api_gateway_rest_api")}
    balancers = {
        dimension: {r["values"]["arn_suffix"] for r in planned_resources(planned, kind)}
        for dimension, kind in (("LoadBalancer", "aws_lb"), ("TargetGroup", "aws_lb_target_group"))
    }
    assert alarms
    faults = []
    for alarm in alarms:
        name = alarm["alarm_name"]
        if "alarm_actions" in alarm and not alarm["alarm_actions"]:
            faults.append(f"{name}: notifies nobody")
        if alarm["comparison_operator"] != "GreaterThanThreshold" or alarm["threshold"] < 0:
            faults.append(f"{name}: threshold {alarm['comparison_operator']} {alarm['threshold']}")
        for metric in _watched(alarm):
            key = (metric["namespace"], metric["metric_name"])
            dimensions = metric["dimensions"] or {}
            if metric["period"] not in PERIODS:
                faults.append(f"{name}: period {metric['period']}")
            if key in AWS_METRICS:
                if set(dimensions) != AWS_METRICS[key]:
                    faults.append(f"{name}: dimensions {sorted(dimensions)} of {key}")
                known = (
                    dimensions.get("FunctionName", "") in functions
                    or dimensions.get("QueueName", "") in queues
                    or dimensions.get("ApiName", "") in apis
                    or (
                        key[0] == "AWS/ApplicationELB"
                        and all(dimensions.get(d) in balancers[d] for d in AWS_METRICS[key])
                    )
                )
                if not known:
                    faults.append(f"{name}: {dimensions} names nothing this root makes")
                continue
            emitted = (*key, frozenset(dimensions.items()))
            if emitted not in metrics:
                faults.append(f"{name}: nobody emits {key} with {dimensions}")
            elif metric["statistic"] not in STATISTICS.get(metrics[emitted], set()):
                faults.append(f"{name}: {metric['statistic']} of a {metrics[emitted]} metric")
    assert faults == []
    assert ("YarraCloud", "TasksFailed", frozenset({("service", "job_state")})) in metrics


def test_every_alarm_has_a_runbook_entry(planned):
    headings = set(re.findall(r"^## (\S+)", RUNBOOK.read_text(), flags=re.MULTILINE))
    missing = []
    for resource in planned_resources(planned, "aws_cloudwatch_metric_alarm"):
        description = resource["values"]["alarm_description"]
        entry = re.search(r"Runbook: ([\w-]+)\.", description)
        if entry is None or entry.group(1) not in headings:
            missing.append(resource["values"]["alarm_name"])
    assert missing == []
