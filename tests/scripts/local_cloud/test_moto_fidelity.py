"""The Terraform tests' emulator keeps and returns what AWS does: set a value, read it back.

One test per patch of ``scripts/local_cloud/moto_fidelity.py``, against an emulator process
started with ``fidelity=True`` as the Terraform apply tests start theirs, so each is shown
without a Terraform apply; and every other emulator is moto without those patches.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator

import pytest

from scripts.local_cloud.emulator import Emulator
from tests.helpers.emulator_client import emulator_client

REGION = "us-east-1"


@pytest.fixture(scope="module")
def faithful() -> Iterator[Emulator]:
    with Emulator(fidelity=True) as running:
        yield running


@pytest.fixture
def aws(faithful: Emulator):
    def client(service: str):
        return emulator_client(faithful.endpoint, service, REGION)

    return client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_a_launch_templates_own_tags_stay_off_its_data(aws):
    ec2 = aws("ec2")
    name = unique("fidelity")
    instance_tags = [{"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": "worker"}]}]
    created = ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"InstanceType": "m5.large", "TagSpecifications": instance_tags},
        TagSpecifications=[
            {"ResourceType": "launch-template", "Tags": [{"Key": "Project", "Value": "yc"}]}
        ],
    )["LaunchTemplate"]

    version = ec2.describe_launch_template_versions(LaunchTemplateName=name)[
        "LaunchTemplateVersions"
    ][0]
    assert version["LaunchTemplateData"]["TagSpecifications"] == instance_tags
    assert created["Tags"] == [{"Key": "Project", "Value": "yc"}]

    bare = unique("fidelity")
    ec2.create_launch_template(
        LaunchTemplateName=bare,
        LaunchTemplateData={"InstanceType": "m5.large"},
        TagSpecifications=[
            {"ResourceType": "launch-template", "Tags": [{"Key": "Project", "Value": "yc"}]}
        ],
    )
    (version,) = ec2.describe_launch_template_versions(LaunchTemplateName=bare)[
        "LaunchTemplateVersions"
    ]
    assert "TagSpecifications" not in version["LaunchTemplateData"]


def test_a_group_to_group_rule_keeps_its_description(aws):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    groups = [
        ec2.create_security_group(GroupName=unique("sg"), Description="d", VpcId=vpc)["GroupId"]
        for _ in range(2)
    ]
    ec2.authorize_security_group_ingress(
        GroupId=groups[0],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8000,
                "ToPort": 8000,
                "UserIdGroupPairs": [{"GroupId": groups[1], "Description": "From the ALB"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "HTTPS"}],
            },
        ],
    )

    rules = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [groups[0]]}]
    )["SecurityGroupRules"]
    described = {r["FromPort"]: r.get("Description") for r in rules if not r["IsEgress"]}
    assert described == {8000: "From the ALB", 443: "HTTPS"}


def test_a_db_instance_keeps_performance_insights(aws):
    rds = aws("rds")
    key = aws("kms").create_key()["KeyMetadata"]["Arn"]
    name = unique("fidelity")
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="portal",
        MasterUserPassword="password-long-enough",
        EnablePerformanceInsights=True,
        PerformanceInsightsKMSKeyId=key,
    )

    described = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    assert described["PerformanceInsightsEnabled"] is True
    assert described["PerformanceInsightsKMSKeyId"] == key
    assert described["PerformanceInsightsRetentionPeriod"] == 7

    rds.modify_db_instance(
        DBInstanceIdentifier=name, EnablePerformanceInsights=False, ApplyImmediately=True
    )
    described = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    assert described["PerformanceInsightsEnabled"] is False
    assert "PerformanceInsightsKMSKeyId" not in described


def test_a_parameter_groups_parameters_read_back_as_the_users(aws):
    rds = aws("rds")
    name = unique("fidelity")
    rds.create_db_parameter_group(
        DBParameterGroupName=name, DBParameterGroupFamily="postgres16", Description="d"
    )
    rds.modify_db_parameter_group(
        DBParameterGroupName=name,
        Parameters=[
            {"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "immediate"}
        ],
    )

    mine = rds.describe_db_parameters(DBParameterGroupName=name, Source="user")["Parameters"]
    assert [(p["ParameterName"], p["ParameterValue"], p["Source"]) for p in mine] == [
        ("rds.force_ssl", "1", "user")
    ]
    assert (
        rds.describe_db_parameters(DBParameterGroupName=name, Source="system")["Parameters"] == []
    )


def test_a_redrive_policy_reads_back_as_compact_json(aws):
    sqs = aws("sqs")
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 4}, separators=(",", ":")
    )
    queue = sqs.create_queue(QueueName=unique("queue"), Attributes={"RedrivePolicy": policy})[
        "QueueUrl"
    ]

    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["RedrivePolicy"])
    assert attributes["Attributes"]["RedrivePolicy"] == policy


def _function_package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return event\n")
    return buffer.getvalue()


def test_a_function_keeps_its_logging_config(aws):
    role = aws("iam").create_role(
        RoleName=unique("fidelity"),
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    lam = aws("lambda")
    configured, default = unique("configured"), unique("default")
    logging_config = {"LogFormat": "Text", "LogGroup": "/yarracloud/functions"}
    for name, extra in ((configured, {"LoggingConfig": logging_config}), (default, {})):
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler="handler.handle",
            Code={"ZipFile": _function_package()},
            **extra,
        )

    assert lam.get_function(FunctionName=configured)["Configuration"]["LoggingConfig"] == (
        logging_config
    )
    assert lam.get_function_configuration(FunctionName=default)["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": f"/aws/lambda/{default}",
    }
    lam.update_function_configuration(
        FunctionName=default, LoggingConfig={"LogGroup": "/yarracloud/other"}
    )
    assert lam.get_function_configuration(FunctionName=default)["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": "/yarracloud/other",
    }


def test_a_service_keeps_its_availability_zone_rebalancing(aws):
    ecs = aws("ecs")
    cluster = ecs.create_cluster(clusterName=unique("fidelity"))["cluster"]["clusterName"]
    task = ecs.register_task_definition(
        family=unique("fidelity"),
        containerDefinitions=[{"name": "portal", "image": "portal:1", "memory": 512}],
    )["taskDefinition"]["taskDefinitionArn"]
    for name, setting in (("disabled", "DISABLED"), ("default", None)):
        ecs.create_service(
            cluster=cluster,
            serviceName=name,
            taskDefinition=task,
            desiredCount=0,
            **({"availabilityZoneRebalancing": setting} if setting else {}),
        )

    services = ecs.describe_services(cluster=cluster, services=["disabled", "default"])["services"]
    assert {s["serviceName"]: s["availabilityZoneRebalancing"] for s in services} == {
        "disabled": "DISABLED",
        "default": "ENABLED",
    }
    ecs.update_service(cluster=cluster, service="default", availabilityZoneRebalancing="DISABLED")
    updated = ecs.describe_services(cluster=cluster, services=["default"])["services"][0]
    assert updated["availabilityZoneRebalancing"] == "DISABLED"


def test_a_buckets_eventbridge_switch_reads_back(aws):
    s3 = aws("s3")
    on, off = unique("fidelity-on"), unique("fidelity-off")
    for bucket in (on, off):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=on, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )

    assert s3.get_bucket_notification_configuration(Bucket=on)["EventBridgeConfiguration"] == {}
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=off)


def test_every_other_emulator_is_moto_without_these_patches(emulator: Emulator):
    """The local cloud, the demo and the other tests run moto's own behaviour here."""
    s3 = emulator_client(emulator.endpoint, "s3", REGION)
    bucket = unique("plain")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=bucket)
