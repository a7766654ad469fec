"""The local API gateway over real HTTP, with requests signed as the Yarra client signs them."""

from __future__ import annotations

import base64
import calendar
import hashlib
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from scripts.local_cloud.api_gateway import (
    INVALID_TOKEN,
    MISSING_TOKEN,
    SIGNATURE_MISMATCH,
    WRONG_REGION,
    WRONG_SERVICE,
    LocalApiGateway,
)
from scripts.local_cloud.credentials import Credential, CredentialStore
from tests.helpers.emulator_client import emulator_client

REGION = "eu-central-1"
ACCOUNT = "123456789012"
BODY = json.dumps({"name": "4f9c1b52-0d1e-4c53-8a40-1d4b1f0c2e77", "recon_mode": "demo"}).encode()

# Plain urllib with no proxy: one from the environment would take requests off loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Echo:
    """A handler that answers with what it saw, and remembers each call."""

    events: list[dict[str, Any]] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        self.contexts.append(context)
        answer = {
            "identity": event["requestContext"]["identity"],
            "body": event["body"],
            "isBase64Encoded": event["isBase64Encoded"],
            "path": event["path"],
        }
        return {
            "statusCode": 200,
            "multiValueHeaders": {"Content-Type": ["application/json"], "X-Echo": ["1", "2"]},
            "body": json.dumps(answer),
            "isBase64Encoded": False,
        }


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Api:
    """A started gateway in front of ``Echo``, and the key of an IAM user allowed through."""

    gateway: LocalApiGateway
    echo: Echo
    iam: Any
    store: CredentialStore
    user: str
    key: str
    secret: str
    user_id: str

    @property
    def url(self) -> str:
        return self.gateway.endpoint

    @contextmanager
    def gateway_with_clock(self, clock: Callable[[], float]) -> Iterator[LocalApiGateway]:
        """Another gateway on the same handler, keys and IAM, with its own clock."""
        with LocalApiGateway(
            make_handler=lambda: self.echo,
            credentials=self.store,
            iam=self.iam,
            region=REGION,
            account=ACCOUNT,
            clock=clock,
        ) as gateway:
            yield gateway

    def sign(
        self,
        method: str = "POST",
        path: str = "/v1/jobs",
        body: bytes | None = BODY,
        headers: dict[str, str] | None = None,
        *,
        key: str | None = None,
        secret: str | None = None,
        token: str | None = None,
        region: str = REGION,
        service: str = "execute-api",
        base: str | None = None,
    ) -> AWSRequest:
        """Sign exactly as the Yarra client does; the result is prepared and ready to send."""
        if headers is None:
            headers = {"Content-Type": "application/json"} if body is not None else {}
        url = (base or self.url) + path
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        credentials = Credentials(key or self.key, secret or self.secret, token)
        SigV4Auth(credentials, service, region).add_auth(request)
        return request

    def send(self, request: AWSRequest, **replace_headers: str) -> Reply:
        prepared = request.prepare()
        headers = dict(prepared.headers.items())
        headers.update({name.replace("_", "-"): value for name, value in replace_headers.items()})
        body = prepared.body if prepared.body is not None else None
        if isinstance(body, str):
            body = body.encode()
        return send_raw(prepared.method, prepared.url, body, headers)

    def call(self, method: str = "POST", path: str = "/v1/jobs", **options: Any) -> Reply:
        return self.send(self.sign(method, path, **options))


def send_raw(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Reply:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with _OPENER.open(request, timeout=30) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.headers, error.read())


def assert_refused(
    api: Api, reply: Reply, status: int, message: str, error_type: str | None = None
) -> None:
    assert (reply.status, reply.json) == (status, {"message": message})
    if error_type is not None:
        assert reply.headers["x-amzn-ErrorType"] == error_type
    assert reply.headers["Content-Type"] == "application/json"
    assert api.echo.events == [], "the handler must not be called for a refused request"


@pytest.fixture(scope="module")
def iam(emulator) -> Any:
    return emulator_client(emulator.endpoint, "iam")


@pytest.fixture
def api(iam: Any, tmp_path: Path) -> Iterator[Api]:
    """A gateway and a fresh IAM user with one key (no emulator reset: IAM's is slow)."""
    user = f"alice-{uuid.uuid4().hex[:12]}"
    user_id = iam.create_user(UserName=user)["User"]["UserId"]
    key = iam.create_access_key(UserName=user)["AccessKey"]
    store = CredentialStore(tmp_path / "credentials.json")
    store.put(Credential(key["AccessKeyId"], key["SecretAccessKey"], user))
    echo = Echo()
    gateway = LocalApiGateway(
        make_handler=lambda: echo, credentials=store, iam=iam, region=REGION, account=ACCOUNT
    )
    with gateway:
        yield Api(
            gateway, echo, iam, store, user, key["AccessKeyId"], key["SecretAccessKey"], user_id
        )


# -- accepted ------------------------------------------------------------------


def test_a_signed_post_reaches_the_handler_as_the_caller(api: Api):
    reply = api.call("POST", "/v1/job_submit?verbose=1&tag=a%20b")

    assert reply.status == 200
    assert reply.headers.get_all("X-Echo") == ["1", "2"]
    assert reply.headers["x-amzn-RequestId"]
    assert reply.json["body"] == BODY.decode()
    identity = reply.json["identity"]
    assert identity["userArn"] == f"arn:aws:iam::{ACCOUNT}:user/{api.user}"
    assert identity["user"] == identity["caller"] == api.user_id
    assert identity["accessKey"] == api.key
    assert identity["accountId"] == ACCOUNT
    assert identity["sourceIp"] == "127.0.0.1"

    [event] = api.echo.events
    assert event["resource"] == "/v1/{proxy+}"
    assert event["path"] == "/v1/job_submit"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"proxy": "job_submit"}
    assert event["queryStringParameters"] == {"verbose": "1", "tag": "a b"}
    assert event["multiValueQueryStringParameters"] == {"verbose": ["1"], "tag": ["a b"]}
    assert event["stageVariables"] is None
    assert event["isBase64Encoded"] is False
    assert event["headers"]["Content-Type"] == "application/json"
    assert event["multiValueHeaders"]["Content-Type"] == ["application/json"]
    context = event["requestContext"]
    assert context["accountId"] == ACCOUNT
    assert context["apiId"] == "local"
    assert context["stage"] == "prod"
    assert context["path"] == "/prod/v1/job_submit"
    assert context["resourcePath"] == "/v1/{proxy+}"
    assert context["httpMethod"] == "POST"
    assert context["protocol"] == "HTTP/1.1"
    assert abs(context["requestTimeEpoch"] / 1000 - time.time()) < 60
    assert reply.headers["x-amzn-RequestId"] == context["requestId"]
    [lambda_context] = api.echo.contexts
    assert lambda_context.function_name == "yarracloud-api"
    assert lambda_context.get_remaining_time_in_millis() > 0


def test_a_get_signed_with_no_body(api: Api):
    reply = api.call("GET", "/v1/openapi.json", body=None)

    assert reply.status == 200
    [event] = api.echo.events
    assert event["httpMethod"] == "GET"
    assert event["body"] is None
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] == {"proxy": "openapi.json"}


def test_an_empty_post_body(api: Api):
    reply = api.call("POST", "/v1/user_status", body=b"")

    assert reply.status == 200
    assert api.echo.events[0]["body"] is None


def test_extra_signed_headers_and_an_unsigned_content_type(api: Api):
    # The client signs only x-custom (and host, x-amz-date); Content-Type is added
    # afterwards, unsigned, with a value no JSON client would pick.
    request = api.sign(headers={"X-Custom": "  several   spaces  "})
    assert "x-custom" in request.headers["Authorization"]
    assert "content-type" not in request.headers["Authorization"]

    reply = api.send(request, Content_Type="text/plain; charset=latin-1")

    assert reply.status == 200, reply.body
    event = api.echo.events[0]
    assert event["headers"]["Content-Type"] == "text/plain; charset=latin-1"
    assert event["body"] == BODY.decode()


def test_headers_botocore_never_signs_are_verified_when_listed(api: Api):
    # Other SigV4 clients sign User-Agent; the verifier must take the client's list as it is.
    request = api.sign(headers={"Content-Type": "application/json"})
    prepared = request.prepare()
    headers = dict(prepared.headers.items())
    headers["User-Agent"] = "yarra-client/1.0"
    signed = "content-type;host;user-agent;x-amz-date"
    authorization = headers["Authorization"]
    scope = authorization.split("Credential=")[1].split(",")[0]
    timestamp = headers["X-Amz-Date"]
    canonical = "\n".join(
        [
            "POST",
            "/v1/jobs",
            "",
            "content-type:application/json",
            f"host:{api.url.removeprefix('http://')}",
            "user-agent:yarra-client/1.0",
            f"x-amz-date:{timestamp}",
            "",
            signed,
            hashlib.sha256(BODY).hexdigest(),
        ]
    )
    signer = SigV4Auth(Credentials(api.key, api.secret), "execute-api", REGION)
    probe = AWSRequest(method="POST", url=api.url)
    probe.context["timestamp"] = timestamp
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            timestamp,
            scope.split("/", 1)[1],
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    signature = signer.signature(string_to_sign, probe)
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={signed}, Signature={signature}"
    )

    assert send_raw("POST", api.url + "/v1/jobs", BODY, headers).status == 200
    api.echo.events.clear()
    headers["User-Agent"] = "something-else/2.0"
    reply = send_raw("POST", api.url + "/v1/jobs", BODY, headers)
    assert_refused(api, reply, 403, SIGNATURE_MISMATCH, "InvalidSignatureException")


def test_a_session_token_and_a_content_sha256_header(api: Api):
    headers = {
        "Content-Type": "application/json",
        "X-Amz-Content-Sha256": hashlib.sha256(BODY).hexdigest(),
    }
    reply = api.call(headers=headers, token="session-token")

    assert reply.status == 200, reply.body
    assert api.echo.events[0]["headers"]["X-Amz-Security-Token"] == "session-token"


def test_a_date_header_instead_of_x_amz_date(api: Api):
    request = api.sign(headers={"Content-Type": "application/json", "Date": "placeholder"})
    assert "X-Amz-Date" not in request.headers

    assert api.send(request).status == 200


def test_a_body_that_is_not_utf8_arrives_base64_encoded(api: Api):
    body = bytes(range(256))

    reply = api.call(body=body, headers={"Content-Type": "application/octet-stream"})

    assert reply.status == 200
    assert reply.json["isBase64Encoded"] is True
    assert base64.b64decode(reply.json["body"]) == body


def test_requests_share_one_keep_alive_connection(api: Api):
    connection = http.client.HTTPConnection("127.0.0.1", api.gateway.endpoint.rsplit(":", 1)[1])
    try:
        for _ in range(3):
            prepared = api.sign().prepare()
            connection.request("POST", "/v1/jobs", prepared.body, dict(prepared.headers.items()))
            response = connection.getresponse()
            assert response.status == 200
            assert response.getheader("Content-Length") is not None
            response.read()
        # A refused request leaves the connection usable as well.
        connection.request("POST", "/v1/jobs", BODY, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 403
        response.read()
        prepared = api.sign().prepare()
        connection.request("POST", "/v1/jobs", prepared.body, dict(prepared.headers.items()))
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    assert len(api.echo.events) == 4


def test_a_powertools_rest_resolver_reads_the_event(api: Api):
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    app = APIGatewayRestResolver()

    @app.get("/v1/openapi.json")
    def openapi() -> dict[str, Any]:
        return {"openapi": "3.0.3"}

    @app.post("/v1/user_status")
    def user_status() -> dict[str, Any]:
        identity = app.current_event.request_context.identity
        return {"caller": identity.user_arn, "echo": app.current_event.json_body}

    api.gateway.make_handler = lambda: app.resolve

    got = api.call("GET", "/v1/openapi.json", body=None)
    assert (got.status, got.json) == (200, {"openapi": "3.0.3"})
    posted = api.call("POST", "/v1/user_status")
    assert posted.status == 200
    assert posted.json == {
        "caller": f"arn:aws:iam::{ACCOUNT}:user/{api.user}",
        "echo": json.loads(BODY),
    }
    assert posted.headers["Content-Type"] == "application/json"
    missing = api.call("POST", "/v1/nothing_here")
    assert missing.status == 404


# -- refused -------------------------------------------------------------------


def test_no_authorization_header(api: Api):
    reply = send_raw("POST", api.url + "/v1/jobs", BODY, {"Content-Type": "application/json"})

    assert_refused(api, reply, 403, MISSING_TOKEN, "MissingAuthenticationTokenException")


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        ("Bearer abc.def", "Invalid key=value pair (missing equal-sign) in Authorization header"),
        (
            "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=abc",
            "Authorization header requires 'Credential' parameter.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-central-1/execute-api/aws4_request",
            "Authorization header requires 'Signature' parameter. "
            "Authorization header requires 'SignedHeaders' parameter.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/eu-central-1, SignedHeaders=host, Signature=abc",
            "Credential must have exactly 5 slash-delimited elements",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-central-1/execute-api/aws4_request, "
            "SignedHeaders=x-amz-date, Signature=abc",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ),
    ],
)
def test_a_malformed_authorization_header(api: Api, authorization: str, expected: str):
    headers = {"Authorization": authorization, "X-Amz-Date": "20240101T000000Z"}

    reply = send_raw("POST", api.url + "/v1/jobs", BODY, headers)

    assert reply.status == 403
    assert reply.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"
    assert reply.json["message"].startswith(expected)
    assert api.echo.events == []


def test_a_signature_without_any_date(api: Api):
    headers = dict(api.sign().prepare().headers.items())
    del headers["X-Amz-Date"]

    reply = send_raw("POST", api.url + "/v1/jobs", BODY, headers)

    assert_refused(
        api,
        reply,
        403,
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        "IncompleteSignatureException",
    )


def test_an_unknown_access_key(api: Api):
    reply = api.call(key="AKIAUNKNOWNKEY000000", secret="whatever")

    assert_refused(api, reply, 403, INVALID_TOKEN, "UnrecognizedClientException")


def test_a_key_deactivated_in_iam_is_refused_at_once(api: Api):
    assert api.call().status == 200
    api.echo.events.clear()

    api.iam.update_access_key(UserName=api.user, AccessKeyId=api.key, Status="Inactive")

    assert api.store.get(api.key) is not None
    assert_refused(api, api.call(), 403, INVALID_TOKEN, "UnrecognizedClientException")

    api.iam.update_access_key(UserName=api.user, AccessKeyId=api.key, Status="Active")
    assert api.call().status == 200


def test_a_key_deleted_in_iam_is_refused_at_once(api: Api):
    assert api.call().status == 200
    api.echo.events.clear()

    api.iam.delete_access_key(UserName=api.user, AccessKeyId=api.key)

    assert_refused(api, api.call(), 403, INVALID_TOKEN, "UnrecognizedClientException")


def test_a_key_whose_user_is_gone_is_refused(api: Api):
    api.iam.delete_access_key(UserName=api.user, AccessKeyId=api.key)
    api.iam.delete_user(UserName=api.user)

    assert_refused(api, api.call(), 403, INVALID_TOKEN, "UnrecognizedClientException")


def test_a_tampered_body(api: Api):
    request = api.sign()
    prepared = request.prepare()
    tampered = prepared.body.replace(b"demo", b"evil")
    assert len(tampered) == len(prepared.body) and tampered != prepared.body

    reply = send_raw("POST", prepared.url, tampered, dict(prepared.headers.items()))

    assert_refused(api, reply, 403, SIGNATURE_MISMATCH, "InvalidSignatureException")


def test_a_content_sha256_header_does_not_stand_for_the_body(api: Api):
    # The header is signed, but the bytes that arrive are what gets hashed.
    headers = {
        "Content-Type": "application/json",
        "X-Amz-Content-Sha256": hashlib.sha256(BODY).hexdigest(),
    }
    prepared = api.sign(headers=headers).prepare()
    tampered = BODY.replace(b"demo", b"evil")

    reply = send_raw("POST", prepared.url, tampered, dict(prepared.headers.items()))

    assert_refused(api, reply, 403, SIGNATURE_MISMATCH, "InvalidSignatureException")


def test_a_wrong_secret(api: Api):
    reply = api.call(secret="not-the-secret")

    assert_refused(api, reply, 403, SIGNATURE_MISMATCH, "InvalidSignatureException")


def test_an_altered_signed_header(api: Api):
    request = api.sign(headers={"Content-Type": "application/json", "X-Custom": "a"})

    reply = api.send(request, X_Custom="b")

    assert_refused(api, reply, 403, SIGNATURE_MISMATCH, "InvalidSignatureException")


def test_an_altered_signed_path(api: Api):
    prepared = api.sign(path="/v1/jobs").prepare()

    reply = send_raw("POST", api.url + "/v1/job_cancel", BODY, dict(prepared.headers.items()))

    assert_refused(api, reply, 403, SIGNATURE_MISMATCH, "InvalidSignatureException")


def _amz(epoch: int) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def _epoch(amz_date: str) -> int:
    return calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))


def test_a_request_replayed_twenty_minutes_later(api: Api):
    fixed = int(time.time())
    with api.gateway_with_clock(lambda: fixed + 1200) as gateway:
        request = api.sign(base=gateway.endpoint)
        reply = api.send(request)

    now = fixed + 1200
    assert_refused(
        api,
        reply,
        403,
        f"Signature expired: {request.headers['X-Amz-Date']} is now earlier than "
        f"{_amz(now - 300)} ({_amz(now)} - 5 min.)",
        "InvalidSignatureException",
    )


def test_a_request_signed_twenty_minutes_ahead(api: Api):
    fixed = int(time.time())
    with api.gateway_with_clock(lambda: fixed - 1200) as gateway:
        request = api.sign(base=gateway.endpoint)
        reply = api.send(request)

    now = fixed - 1200
    assert_refused(
        api,
        reply,
        403,
        f"Signature not yet current: {request.headers['X-Amz-Date']} is still later than "
        f"{_amz(now + 300)} ({_amz(now)} + 5 min.)",
        "InvalidSignatureException",
    )


@pytest.mark.parametrize("skew", [-300, 300])
def test_skew_of_five_minutes_is_accepted(api: Api, skew: int):
    signed_at: list[int] = []
    with api.gateway_with_clock(lambda: signed_at[0] + skew) as gateway:
        request = api.sign(base=gateway.endpoint)
        signed_at.append(_epoch(request.headers["X-Amz-Date"]))
        assert api.send(request).status == 200


def test_a_signature_scoped_to_another_region(api: Api):
    reply = api.call(region="us-west-2")

    assert_refused(api, reply, 403, WRONG_REGION, "InvalidSignatureException")


def test_a_signature_scoped_to_another_service(api: Api):
    reply = api.call(service="s3")

    assert_refused(api, reply, 403, WRONG_SERVICE, "InvalidSignatureException")


def test_a_body_over_ten_megabytes_is_refused_unread(api: Api):
    limit = api.gateway.max_body_bytes
    assert limit == 10 * 1024 * 1024
    connection = http.client.HTTPConnection("127.0.0.1", api.url.rsplit(":", 1)[1], timeout=10)
    try:
        # Only the headers go out: the answer comes without the body ever being sent.
        connection.putrequest("POST", "/v1/jobs")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(limit + 1))
        connection.putheader("Authorization", "AWS4-HMAC-SHA256 Credential=x")
        connection.endheaders()
        response = connection.getresponse()
        reply = Reply(response.status, response.headers, response.read())
    finally:
        connection.close()
    assert_refused(api, reply, 413, "Request Too Long")
    assert reply.headers["Connection"] == "close"


def test_a_signed_body_over_ten_megabytes_gets_413(api: Api):
    body = b"x" * (10 * 1024 * 1024 + 1)

    reply = api.call(body=body)

    assert_refused(api, reply, 413, "Request Too Long")


def test_a_body_of_exactly_the_limit_passes(api: Api):
    api.gateway.max_body_bytes = len(BODY)

    assert api.call().status == 200


def post_without_content_length(api: Api, body: bytes, length: str | None) -> Reply:
    prepared = api.sign(body=body).prepare()
    connection = http.client.HTTPConnection("127.0.0.1", api.url.rsplit(":", 1)[1], timeout=10)
    try:
        connection.putrequest("POST", "/v1/jobs", skip_accept_encoding=True)
        for name, value in prepared.headers.items():
            if name.lower() != "content-length":
                connection.putheader(name, value)
        if length is not None:
            connection.putheader("Content-Length", length)
        connection.endheaders()
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def test_a_post_with_an_invalid_content_length(api: Api):
    reply = post_without_content_length(api, BODY, "abc")

    assert_refused(api, reply, 400, "Invalid Content-Length")


def test_a_post_with_no_content_length_has_an_empty_body(api: Api):
    # HTTP/1.1: a request with neither Content-Length nor Transfer-Encoding has no body.
    # Qt sends its body-less POSTs (the Yarra client's v1/user_status, v1/modes) so.
    reply = post_without_content_length(api, b"", None)

    assert reply.status == 200
    assert reply.json["body"] is None


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v2/jobs"), ("POST", "/"), ("POST", "/v1/"), ("PUT", "/v1/jobs")],
)
def test_an_unknown_resource_or_method(api: Api, method: str, path: str):
    reply = api.call(method, path)

    assert_refused(api, reply, 403, MISSING_TOKEN, "MissingAuthenticationTokenException")


def test_a_failing_handler_is_a_502(api: Api, caplog: pytest.LogCaptureFixture):
    def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    api.gateway.make_handler = lambda: broken
    with caplog.at_level(logging.ERROR, logger="yarracloud.local_api"):
        reply = api.call()

    assert (reply.status, reply.json) == (502, {"message": "Internal server error"})
    assert any(record.exc_info and "boom" in str(record.exc_info[1]) for record in caplog.records)


def test_a_malformed_handler_answer_is_a_502(api: Api):
    api.gateway.make_handler = lambda: lambda event, context: "not a proxy response"

    reply = api.call()

    assert (reply.status, reply.json) == (502, {"message": "Internal server error"})


# -- lifecycle -----------------------------------------------------------------


def test_lifecycle(tmp_path: Path):
    gateway = LocalApiGateway(
        make_handler=Echo,
        credentials=CredentialStore(tmp_path / "credentials.json"),
        iam=None,
        region=REGION,
        account=ACCOUNT,
    )
    with pytest.raises(RuntimeError, match="not started"):
        _ = gateway.endpoint
    base = gateway.start()
    assert base.startswith("http://127.0.0.1:")
    assert gateway.start() == base == gateway.endpoint
    gateway.stop()
    gateway.stop()
    with pytest.raises(RuntimeError, match="not started"):
        _ = gateway.endpoint
    with gateway as running:
        assert running.endpoint.startswith("http://127.0.0.1:")
