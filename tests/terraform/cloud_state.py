"""What a region of the emulator holds, in the terms resources.json speaks."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers.emulator_client import emulator_client


def _name(arn: str) -> str:
    return arn.rsplit(":", 1)[1]


def snapshot(endpoint: str, region: str, prefix: str) -> dict[str, Any]:
    """Buckets, queues (+ DLQ and redrive), pattern rules (+ targets), tables and secrets of
    ``prefix`` (not the portal's own, which the local cloud does not host)."""
    s3 = emulator_client(endpoint, "s3", region)
    sqs = emulator_client(endpoint, "sqs", region)
    events = emulator_client(endpoint, "events", region)
    dynamodb = emulator_client(endpoint, "dynamodb", region)
    secretsmanager = emulator_client(endpoint, "secretsmanager", region)

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
    secrets = {
        secret["Name"]: secret.get("Description")
        for secret in secretsmanager.list_secrets()["SecretList"]
        if secret["Name"].startswith(f"{prefix}/") and "/portal/" not in secret["Name"]
    }
    return {
        "buckets": buckets,
        "queues": queues,
        "rules": rules,
        "tables": tables,
        "secrets": secrets,
    }


def site_user_policy(endpoint: str, group: str) -> dict[str, Any]:
    iam = emulator_client(endpoint, "iam")
    names = iam.list_group_policies(GroupName=group)["PolicyNames"]
    assert len(names) == 1, names
    document = iam.get_group_policy(GroupName=group, PolicyName=names[0])["PolicyDocument"]
    return json.loads(document) if isinstance(document, str) else document
