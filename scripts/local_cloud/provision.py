"""Creates the cloud of ``terraform/resources.json`` in the emulator (and the local Batch)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from scripts.local_cloud.resources import Resources


@dataclass(frozen=True)
class Provisioned:
    """What the local runtime needs to drive the provisioned cloud."""

    queue_urls: dict[str, str]
    """Queue key in resources.json → URL."""
    dlq_urls: dict[str, str]


def provision(resources: Resources, session: Any, *, batch: Any) -> Provisioned:
    """Create buckets, queues, rules, tables, the site users' group and Batch resources.

    Returns the queue URLs.
    """
    region = resources.deployment.region
    _buckets(resources, session.client("s3", region_name=region))
    queue_urls, dlq_urls = _queues(resources, session.client("sqs", region_name=region))
    _rules(
        resources,
        session.client("events", region_name=region),
        session.client("sqs", region_name=region),
        queue_urls,
    )
    _tables(resources, session.client("dynamodb", region_name=region))
    _site_users(resources, session.client("iam", region_name=region))
    _secrets(resources, session.client("secretsmanager", region_name=region))
    _batch(resources, batch)
    return Provisioned(queue_urls=queue_urls, dlq_urls=dlq_urls)


def attach(resources: Resources, session: Any, *, batch: Any) -> Provisioned:
    """Use buckets, queues, rules, tables and the group that already exist (Terraform made them).

    Only the Batch resources are created, in the local Batch, which the emulator's Batch
    cannot stand in for.
    """
    sqs = session.client("sqs", region_name=resources.deployment.region)
    queue_urls, dlq_urls = {}, {}
    for key, spec in resources.raw["queues"].items():
        queue_urls[key] = sqs.get_queue_url(QueueName=resources.queue(key))["QueueUrl"]
        dlq_urls[key] = sqs.get_queue_url(QueueName=resources.resolve(spec["dlq"]))["QueueUrl"]
    _batch(resources, batch)
    return Provisioned(queue_urls=queue_urls, dlq_urls=dlq_urls)


def _secrets(resources: Resources, secretsmanager: Any) -> None:
    """The secrets, without a value, as Terraform makes them (their values are set later)."""
    for key, spec in resources.raw["secrets"].items():
        secretsmanager.create_secret(Name=resources.secret(key), Description=spec["description"])


def _buckets(resources: Resources, s3: Any) -> None:
    region = resources.deployment.region
    for key, spec in resources.raw["buckets"].items():
        name = resources.bucket(key)
        kwargs: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_lifecycle_configuration(
            Bucket=name,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": "expire",
                        "Status": "Enabled",
                        "Filter": {"Prefix": ""},
                        "Expiration": {"Days": spec["expire_days"]},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                    }
                ]
            },
        )
        if spec.get("eventbridge"):
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )


def _queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


def _queues(resources: Resources, sqs: Any) -> tuple[dict[str, str], dict[str, str]]:
    urls, dlqs = {}, {}
    for key, spec in resources.raw["queues"].items():
        dlq_url = sqs.create_queue(
            QueueName=resources.resolve(spec["dlq"]),
            Attributes={"MessageRetentionPeriod": "1209600"},
        )["QueueUrl"]
        redrive = {
            "deadLetterTargetArn": _queue_arn(sqs, dlq_url),
            "maxReceiveCount": spec["max_receive_count"],
        }
        urls[key] = sqs.create_queue(
            QueueName=resources.queue(key),
            Attributes={
                "RedrivePolicy": json.dumps(redrive),
                "VisibilityTimeout": str(spec["visibility_timeout_seconds"]),
            },
        )["QueueUrl"]
        dlqs[key] = dlq_url
    return urls, dlqs


def _rules(resources: Resources, events: Any, sqs: Any, queue_urls: dict[str, str]) -> None:
    for spec in resources.raw["rules"].values():
        name = resources.resolve(spec["name"])
        events.put_rule(
            Name=name, EventPattern=json.dumps(resources.resolve(spec["pattern"])), State="ENABLED"
        )
        arn = _queue_arn(sqs, queue_urls[spec["queue"]])
        events.put_targets(Rule=name, Targets=[{"Id": spec["queue"], "Arn": arn}])


def _tables(resources: Resources, dynamodb: Any) -> None:
    for key, spec in resources.raw["tables"].items():
        name = resources.table(key)
        schema = [{"AttributeName": spec["hash_key"], "KeyType": "HASH"}]
        if spec.get("range_key"):
            schema.append({"AttributeName": spec["range_key"], "KeyType": "RANGE"})
        kwargs: dict[str, Any] = {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": schema,
            "AttributeDefinitions": [
                {"AttributeName": a, "AttributeType": t} for a, t in spec["attributes"].items()
            ],
        }
        indexes = [
            {
                "IndexName": index_name,
                "KeySchema": [
                    {"AttributeName": index["hash_key"], "KeyType": "HASH"},
                    {"AttributeName": index["range_key"], "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index_name, index in spec["indexes"].items()
        ]
        if indexes:
            kwargs["GlobalSecondaryIndexes"] = indexes
        dynamodb.create_table(**kwargs)
        if spec.get("ttl"):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec["ttl"]},
            )


def _site_users(resources: Resources, iam: Any) -> None:
    """The group whose policy keeps each site user inside its own prefixes."""
    group = resources.site_user_group()
    iam.create_group(GroupName=group)
    iam.put_group_policy(
        GroupName=group,
        PolicyName=resources.site_user_policy_name(),
        PolicyDocument=json.dumps(resources.site_user_policy()),
    )


def _batch(resources: Resources, batch: Any) -> None:
    raw = resources.raw["batch"]
    for spec in raw["compute_environments"].values():
        batch.create_compute_environment(
            computeEnvironmentName=resources.resolve(spec["name"]),
            type="MANAGED",
            state="ENABLED",
            computeResources={
                "type": spec["type"],
                "minvCpus": 0,
                "maxvCpus": spec["max_vcpus"],
                "instanceTypes": ["optimal"],
                "subnets": ["subnet-local"],
                "securityGroupIds": ["sg-local"],
                "instanceRole": "ecsInstanceRole",
            },
        )
    for key, spec in raw["job_queues"].items():
        batch.create_job_queue(
            jobQueueName=resources.job_queue(key),
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": resources.resolve(spec["compute_environment"])}
            ],
        )
    job = resources.job_definition()
    retry = job["retry"]
    evaluate = []
    for rule in retry["evaluate_on_exit"]:
        entry = {"action": rule["action"]}
        for field, api in (
            ("on_status_reason", "onStatusReason"),
            ("on_reason", "onReason"),
            ("on_exit_code", "onExitCode"),
        ):
            if field in rule:
                entry[api] = rule[field]
        evaluate.append(entry)
    batch.register_job_definition(
        jobDefinitionName=job["name"],
        type="container",
        containerProperties={
            "image": "yarracloud/recon-worker:local",
            "command": job["command"],
            "resourceRequirements": [
                {"type": "VCPU", "value": str(job["vcpus"])},
                {"type": "MEMORY", "value": str(job["memory_mib"])},
            ],
        },
        retryStrategy={"attempts": retry["attempts"], "evaluateOnExit": evaluate},
        timeout={"attemptDurationSeconds": job["timeout_seconds"]},
        propagateTags=True,
        platformCapabilities=["EC2"],
    )
