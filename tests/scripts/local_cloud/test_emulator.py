import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from botocore.config import Config

from scripts.local_cloud.emulator import Emulator
from scripts.local_cloud.moto_version import WRITTEN_FOR, MotoVersionError, require_written_for
from tests.helpers.emulator_client import emulator_client

REPO = Path(__file__).resolve().parents[3]


def test_a_busy_port_gets_a_clear_message():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"127.0.0.1:{port}.*in use"):
            Emulator(port=port).start()
        result = subprocess.run(
            [sys.executable, "-m", "scripts.local_cloud", "--aws-port", str(port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stderr and "in use" in result.stderr


def test_the_patches_refuse_a_moto_they_were_not_written_for():
    with pytest.raises(MotoVersionError) as refused:
        require_written_for("5.3.0")
    message = str(refused.value)
    assert f"written for moto {WRITTEN_FOR}, but moto 5.3.0 is installed" in message
    assert "moto_fidelity.py" in message and "WRITTEN_FOR" in message
    require_written_for()
    assert f'"moto[server]=={WRITTEN_FOR}"' in (REPO / "pyproject.toml").read_text()


def test_reset_forgets_everything(emulator):
    s3 = emulator_client(emulator.endpoint, "s3")
    s3.create_bucket(Bucket="scratch")
    emulator.reset()
    assert s3.list_buckets()["Buckets"] == []


def test_aws_managed_policies_are_there_after_a_reset_for_terraform_to_attach(emulator):
    iam = emulator_client(emulator.endpoint, "iam")
    arn = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    iam.create_role(RoleName="gateway-logs", AssumeRolePolicyDocument="{}")
    iam.attach_role_policy(RoleName="gateway-logs", PolicyArn=arn)
    emulator.reset()

    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    assert iam.list_roles()["Roles"] == []


def test_a_conditional_write_has_one_winner_however_many_race(emulator):
    """DynamoDB's conditional writes are atomic; the claim that guards SubmitJob needs that."""
    emulator.reset()
    dynamodb = emulator_client(
        emulator.endpoint,
        "dynamodb",
        config=Config(max_pool_connections=16, retries={"max_attempts": 1}),
    )
    dynamodb.create_table(
        TableName="claims",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    racers, rounds = 8, 25
    winners: list[list[int]] = [[] for _ in range(rounds)]
    start = threading.Barrier(racers)

    def race(racer: int) -> None:
        for n in range(rounds):
            start.wait(timeout=30)
            try:
                dynamodb.update_item(
                    TableName="claims",
                    Key={"id": {"S": f"task-{n}"}},
                    UpdateExpression="SET claim = :me, "
                    + ", ".join(f"field{i} = :me" for i in range(30)),
                    ConditionExpression="attribute_not_exists(claim)",
                    ExpressionAttributeValues={":me": {"N": str(racer)}},
                )
                winners[n].append(racer)
            except dynamodb.exceptions.ConditionalCheckFailedException:
                pass

    threads = [threading.Thread(target=race, args=(r,)) for r in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [len(w) for w in winners] == [1] * rounds


def test_an_index_query_returns_items_in_key_order_page_by_page(emulator):
    """Numbers order as numbers, strings as strings; equal index keys by the table's key."""
    emulator.reset()
    dynamodb = emulator_client(emulator.endpoint, "dynamodb")
    dynamodb.create_table(
        TableName="tasks",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": attr, "AttributeType": kind}
            for attr, kind in (("id", "S"), ("site", "S"), ("created", "N"), ("name", "S"))
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": f"by_{attr}",
                "KeySchema": [
                    {"AttributeName": "site", "KeyType": "HASH"},
                    {"AttributeName": attr, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for attr in ("created", "name")
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    created = ["100", "9", "10", "-2.5", "9", "1e3", "0.75"]
    names = ["b", "B", "a10", "a9", "é", "a", "ab"]
    for n, (when, name) in enumerate(zip(created, names, strict=True)):
        item = {"id": f"t{n}", "site": "a", "created": when, "name": name}
        dynamodb.put_item(
            TableName="tasks",
            Item={k: {"N" if k == "created" else "S": v} for k, v in item.items()},
        )
    dynamodb.put_item(
        TableName="tasks",
        Item={"id": {"S": "other"}, "site": {"S": "b"}, "created": {"N": "5"}, "name": {"S": "c"}},
    )

    def query(index: str, forward: bool) -> list[str]:
        ids, start = [], {}
        while True:
            page = dynamodb.query(
                TableName="tasks",
                IndexName=index,
                KeyConditionExpression="site = :s",
                ExpressionAttributeValues={":s": {"S": "a"}},
                ScanIndexForward=forward,
                Limit=2,
                **start,
            )
            ids += [item["id"]["S"] for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return ids
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    by_created = ["t3", "t6", "t1", "t4", "t2", "t0", "t5"]
    assert query("by_created", True) == by_created
    assert query("by_created", False) == by_created[::-1]
    by_name = ["t1", "t5", "t2", "t3", "t6", "t0", "t4"]
    assert query("by_name", True) == by_name
    assert query("by_name", False) == by_name[::-1]


def test_a_ranged_get_returns_the_bytes_of_its_range_as_s3_does(emulator):
    """Ranged GETs read only their range from the stored object; the bytes are S3's."""
    s3 = emulator_client(emulator.endpoint, "s3")
    s3.create_bucket(Bucket="ranges")
    body = bytes(range(256)) * (3 * 2**20 // 256) + b"tail"  # over moto's in-memory buffer
    s3.put_object(Bucket="ranges", Key="object", Body=body)

    def get(range_header: str) -> tuple[bytes, str | None]:
        response = s3.get_object(Bucket="ranges", Key="object", Range=range_header)
        return response["Body"].read(), response.get("ContentRange")

    size = len(body)
    assert get("bytes=0-0") == (body[:1], f"bytes 0-0/{size}")
    assert get("bytes=1000-2000000") == (body[1000:2000001], f"bytes 1000-2000000/{size}")
    assert get(f"bytes={size - 10}-") == (body[-10:], f"bytes {size - 10}-{size - 1}/{size}")
    assert get("bytes=-4") == (b"tail", f"bytes {size - 4}-{size - 1}/{size}")
    assert get(f"bytes=5-{size + 100}") == (body[5:], f"bytes 5-{size - 1}/{size}")
    assert get("bytes=0-1,5-6") == (body, None)  # several ranges: the whole object, as S3
    with pytest.raises(s3.exceptions.ClientError, match="InvalidRange"):
        get(f"bytes={size}-")
    assert s3.get_object(Bucket="ranges", Key="object")["Body"].read() == body
    head = s3.head_object(Bucket="ranges", Key="object", Range="bytes=10-19")
    assert head["ContentLength"] == 10
