"""What a region of the emulator holds, in the terms resources.json speaks."""

from __future__ import annotations

import json
from typing import Any

import boto3


def _name(arn: str) -> str:
    return arn.rsplit(":", 1)[1]


def client(endpoint: str, service: str, region: str = "us-east-1") -> Any:
    """A client of the emulator at ``endpoint``."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def snapshot(endpoint: str, region: str, prefix: str) -> dict[str, Any]:
    """Buckets, queues (+ DLQ and redrive), pattern rules (+ targets) and tables of ``prefix``."""
    s3 = client(endpoint, "s3", region)
    sqs = client(endpoint, "sqs", region)
    events = client(endpoint, "events", region)
    dynamodb = client(endpoint, "dynamodb", region)

    buckets = {}
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        if not name.startswith(prefix) or f"-{region}-" not in name:
            continue
        rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
        buckets[name] = sorted(
            (
                rule["Expiration"]["Days"],
                rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"],
            )
            for rule in rules
        )

    queues = {}
    for url in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes.get("RedrivePolicy", "null"))
        queues[url.rsplit("/", 1)[1]] = {
            "visibility_timeout": int(attributes["VisibilityTimeout"]),
            "dlq": redrive and _name(redrive["deadLetterTargetArn"]),
            "max_receive_count": redrive and int(redrive["maxReceiveCount"]),
        }

    rules = {}
    for rule in events.list_rules(NamePrefix=prefix)["Rules"]:
        if "EventPattern" not in rule:
            continue
        targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        rules[rule["Name"]] = {
            "pattern": json.loads(rule["EventPattern"]),
            "targets": sorted(_name(t["Arn"]) for t in targets),
        }

    tables = {}
    for name in dynamodb.list_tables()["TableNames"]:
        if not name.startswith(prefix):
            continue
        table = dynamodb.describe_table(TableName=name)["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        tables[name] = {
            "keys": [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]],
            "attributes": {
                a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]
            },
            "indexes": {
                index["IndexName"]: (
                    [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]],
                    index["Projection"]["ProjectionType"],
                )
                for index in table.get("GlobalSecondaryIndexes", [])
            },
            "ttl": ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") == "ENABLED" else None,
        }
    return {"buckets": buckets, "queues": queues, "rules": rules, "tables": tables}


def site_user_policy(endpoint: str, group: str) -> dict[str, Any]:
    iam = client(endpoint, "iam")
    names = iam.list_group_policies(GroupName=group)["PolicyNames"]
    assert len(names) == 1, names
    document = iam.get_group_policy(GroupName=group, PolicyName=names[0])["PolicyDocument"]
    return json.loads(document) if isinstance(document, str) else document
