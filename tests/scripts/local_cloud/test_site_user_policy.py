"""The site users' group policy keeps each user inside its own prefixes.

These tests evaluate the policy document, not the emulator's enforcement. The
emulator's IAM enforcement (moto's, switched on by ``INITIAL_NO_AUTH_ACTION_COUNT``)
matches a statement's Resource as written, without filling in policy variables,
and of the condition operators it knows only ``StringEquals``: under a policy
scoped with ``${aws:username}`` it refuses a user even its own prefix, so it
cannot tell a right policy from a wrong one. The evaluator below does what IAM
does for the parts this policy uses: it fills in ``${aws:username}`` with the
caller's name, matches actions (case-insensitively) and resources with IAM's
``*`` and ``?`` wildcards, requires every condition (a missing key fails a
``StringLike``), lets an explicit deny win and denies whatever no statement allows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pytest

from scripts.local_cloud.resources import Deployment, Resources

REGION, ACCOUNT = "eu-central-1", "123456789012"
RESOURCES = Resources(Deployment("yc", REGION, ACCOUNT))
POLICY = RESOURCES.site_user_policy()
IN, OUT = RESOURCES.bucket("in"), RESOURCES.bucket("out")
TASK = "0b0f1e56-8d0e-4f43-9b37-3c2f1c9b2a11"
API = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5"

_VARIABLE = re.compile(r"\$\{([^}]*)\}")


# -- the evaluator -----------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard(text: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


def _pattern(template: str, variables: Mapping[str, str]) -> re.Pattern[str]:
    """IAM's matching of a Resource or StringLike value, with policy variables filled in.

    The text around variables keeps its wildcards; a variable's value is literal.
    ``${*}``, ``${?}`` and ``${$}`` stand for the literal characters.
    """
    regex, end = [], 0
    for match in _VARIABLE.finditer(template):
        regex.append(_wildcard(template[end : match.start()]))
        name = match.group(1)
        if name in ("*", "?", "$"):
            regex.append(re.escape(name))
        elif name in variables:
            regex.append(re.escape(variables[name]))
        else:
            raise AssertionError(f"the evaluator does not know the policy variable {name!r}")
        end = match.end()
    regex.append(_wildcard(template[end:]))
    return re.compile("".join(regex), re.DOTALL)


def _condition_holds(
    condition: Mapping[str, Mapping[str, Any]],
    context: Mapping[str, str],
    variables: Mapping[str, str],
) -> bool:
    known = {key.lower(): value for key, value in context.items()}
    for operator, tests in condition.items():
        for key, expected in tests.items():
            actual = known.get(key.lower())
            if actual is None:
                return False
            if operator == "StringLike":
                matches = any(_pattern(v, variables).fullmatch(actual) for v in _as_list(expected))
            elif operator == "StringEquals":
                matches = any(
                    _VARIABLE.sub(lambda m: variables[m.group(1)], v) == actual
                    for v in _as_list(expected)
                )
            else:
                raise AssertionError(f"the evaluator does not know the operator {operator}")
            if not matches:
                return False
    return True


def allowed(
    user: str,
    action: str,
    resource: str,
    context: Mapping[str, str] | None = None,
    policy: Mapping[str, Any] = POLICY,
) -> bool:
    """Whether IAM allows ``user`` (a member of the group) ``action`` on ``resource``."""
    variables = {"aws:username": user}
    verdict = False
    for statement in _as_list(policy["Statement"]):
        assert "NotAction" not in statement and "NotResource" not in statement
        actions = _as_list(statement["Action"])
        if not any(re.fullmatch(_wildcard(a), action, re.IGNORECASE) for a in actions):
            continue
        if not any(
            _pattern(r, variables).fullmatch(resource) for r in _as_list(statement["Resource"])
        ):
            continue
        if not _condition_holds(statement.get("Condition", {}), context or {}, variables):
            continue
        if statement["Effect"] == "Deny":
            return False
        verdict = True
    return verdict


def obj(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def bucket(name: str) -> str:
    return f"arn:aws:s3:::{name}"


# -- the evaluator itself ----------------------------------------------------------------


def test_the_evaluator_fills_in_the_user_and_keeps_wildcards_apart_from_values():
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:Get*",
                "Resource": "arn:aws:s3:::b/${aws:username}/?",
            },
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/eve/*"},
        ]
    }
    assert allowed("alice", "s3:getobject", "arn:aws:s3:::b/alice/x", policy=policy)
    assert not allowed("alice", "s3:GetObject", "arn:aws:s3:::b/alice/xy", policy=policy)
    assert not allowed("alice", "s3:GetObject", "arn:aws:s3:::b/bob/x", policy=policy)
    assert not allowed("eve", "s3:GetObject", "arn:aws:s3:::b/eve/x", policy=policy)
    assert not allowed("a.b", "s3:GetObject", "arn:aws:s3:::b/aXb/x", policy=policy)


# -- the policy --------------------------------------------------------------------------


def test_the_policy_grants_these_actions_and_nothing_else():
    granted = {(a, s["Effect"]) for s in POLICY["Statement"] for a in _as_list(s["Action"])}
    assert granted == {
        ("s3:PutObject", "Allow"),
        ("s3:AbortMultipartUpload", "Allow"),
        ("s3:ListMultipartUploadParts", "Allow"),
        ("s3:ListBucket", "Allow"),
        ("s3:GetObject", "Allow"),
        ("execute-api:Invoke", "Allow"),
    }
    for statement in POLICY["Statement"]:
        for resource in _as_list(statement["Resource"]):
            assert "{" not in _VARIABLE.sub("", resource), "an unresolved placeholder"
            if resource.startswith("arn:aws:s3:::") and "/" in resource:
                assert resource.endswith("/${aws:username}/*")
            elif resource.startswith("arn:aws:s3:::"):
                assert statement["Condition"] == {"StringLike": {"s3:prefix": "${aws:username}/*"}}


@pytest.mark.parametrize(
    "action", ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
)
def test_a_user_uploads_only_under_its_own_prefix_of_the_in_bucket(action):
    own = obj(IN, f"alice/{TASK}/{TASK}.dat")
    assert allowed("alice", action, own)
    assert allowed("bob", action, obj(IN, f"bob/{TASK}/{TASK}.task"))
    assert not allowed("bob", action, own)
    for key in (f"bob/{TASK}/{TASK}.dat", f"alice2/{TASK}/x.dat", "alice", "x/alice/y", "al/x"):
        assert not allowed("alice", action, obj(IN, key)), key
    assert not allowed("alice", action, obj(OUT, f"alice/{TASK}/x.dcm"))
    assert not allowed("alice", action, obj("another-bucket", f"alice/{TASK}/x.dat"))


def test_a_user_reads_only_its_own_results_and_never_the_in_bucket():
    own = obj(OUT, f"alice/{TASK}/output_files/0001.dcm")
    assert allowed("alice", "s3:GetObject", own)
    assert allowed("alice", "s3:GetObject", obj(OUT, f"alice/{TASK}/manifest.json"))
    assert not allowed("bob", "s3:GetObject", own)
    assert not allowed("alice", "s3:GetObject", obj(OUT, f"bob/{TASK}/manifest.json"))
    assert not allowed("alice", "s3:GetObject", obj(OUT, f"alice2/{TASK}/manifest.json"))
    assert not allowed("alice", "s3:GetObject", obj(IN, f"alice/{TASK}/{TASK}.dat"))
    assert not allowed("alice", "s3:PutObject", own)


@pytest.mark.parametrize("name", [IN, OUT])
def test_a_user_lists_a_bucket_only_within_its_own_prefix(name):
    arn = bucket(name)
    assert allowed("alice", "s3:ListBucket", arn, {"s3:prefix": "alice/"})
    assert allowed("alice", "s3:ListBucket", arn, {"s3:prefix": f"alice/{TASK}/"})
    assert allowed("bob", "s3:ListBucket", arn, {"s3:prefix": "bob/"})
    assert not allowed("alice", "s3:ListBucket", arn, {"s3:prefix": "bob/"})
    assert not allowed("alice", "s3:ListBucket", arn, {"s3:prefix": "alice2/"})
    assert not allowed("alice", "s3:ListBucket", arn, {"s3:prefix": ""})
    assert not allowed("alice", "s3:ListBucket", arn), "a listing with no prefix"
    assert not allowed("alice", "s3:ListBucket", bucket("another-bucket"), {"s3:prefix": "alice/"})


def test_a_user_calls_the_v1_api_in_its_own_region_and_account_only():
    assert allowed("alice", "execute-api:Invoke", f"{API}/prod/POST/v1/jobs")
    assert allowed("bob", "execute-api:Invoke", f"{API}/prod/POST/v1/user_status")
    assert not allowed("alice", "execute-api:Invoke", f"{API}/prod/POST/v2/jobs")
    assert not allowed("alice", "execute-api:Invoke", f"{API}/prod/POST/admin")
    other_region = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:a1b2c3d4e5/prod/POST/v1/jobs"
    other_account = f"arn:aws:execute-api:{REGION}:999999999999:a1b2c3d4e5/prod/POST/v1/jobs"
    assert not allowed("alice", "execute-api:Invoke", other_region)
    assert not allowed("alice", "execute-api:Invoke", other_account)
    assert not allowed("alice", "execute-api:ManageConnections", f"{API}/prod/POST/v1/jobs")


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("s3:DeleteObject", obj(IN, f"alice/{TASK}/{TASK}.dat")),
        ("s3:DeleteObject", obj(OUT, f"alice/{TASK}/manifest.json")),
        ("s3:DeleteObjectVersion", obj(IN, f"alice/{TASK}/{TASK}.dat")),
        ("s3:PutObjectAcl", obj(IN, f"alice/{TASK}/{TASK}.dat")),
        ("s3:GetObjectAcl", obj(OUT, f"alice/{TASK}/manifest.json")),
        ("s3:ListAllMyBuckets", "arn:aws:s3:::*"),
        ("s3:ListBucketMultipartUploads", bucket(IN)),
        ("s3:PutBucketPolicy", bucket(IN)),
        ("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/alice"),
        ("dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/yc-task"),
    ],
)
def test_everything_else_is_denied_even_on_the_users_own_things(action, resource):
    assert not allowed("alice", action, resource, {"s3:prefix": "alice/"})


def test_the_local_cloud_provisions_the_group_with_this_policy(make_cloud):
    cloud = make_cloud(poll=False)
    iam = cloud.clients.session.client("iam")
    group = cloud.resources.site_user_group()
    stored = iam.get_group_policy(
        GroupName=group, PolicyName=cloud.resources.site_user_policy_name()
    )["PolicyDocument"]
    if isinstance(stored, str):
        stored = json.loads(stored)
    assert stored == cloud.resources.site_user_policy()
    assert "${aws:username}" in json.dumps(stored)
    assert group == "yarracloud-site-users"
