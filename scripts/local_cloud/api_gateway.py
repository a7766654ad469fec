"""The local stand-in for API Gateway, ``AWS_IAM`` authorization, in front of the ``api`` handler.

It serves HTTP on 127.0.0.1, on a port the OS hands out, and does what API
Gateway does before a request reaches the Lambda function: it routes
``/v1/{proxy+}``, refuses oversized bodies, verifies the AWS Signature Version 4
(service ``execute-api``) against the secret in the local credential store, asks
IAM whether the key is still active, and only then builds the REST API (payload
1.0) proxy event and calls the handler. Refusals carry API Gateway's status
codes, its JSON body ``{"message": ...}`` and its ``x-amzn-ErrorType`` header,
because clients act on them: the Yarra client reads a 403 as "key invalid".
"""

from __future__ import annotations

import base64
import binascii
import calendar
import datetime
import email.utils
import hashlib
import hmac
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from scripts.local_cloud.credentials import CredentialStore
from scripts.local_cloud.lambda_runtime import LambdaContext

logger = logging.getLogger("yarracloud.local_api")

Handler = Callable[[dict[str, Any], Any], Any]
HandlerFactory = Callable[[], Handler]

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
RESOURCE = "/v1/{proxy+}"
PREFIX = "/v1/"
METHODS = ("GET", "POST")
FUNCTION_NAME = "yarracloud-api"
HANDLER_TIMEOUT_SECONDS = 29.0
"""API Gateway's integration timeout, given to the handler as its Lambda timeout."""
MAX_SKEW_SECONDS = 5 * 60
SOCKET_TIMEOUT_SECONDS = 60.0
"""How long an idle keep-alive connection, or a stalled upload, holds its thread."""

_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AMZ_DATE_PATTERN = re.compile(r"^\d{8}T\d{6}Z$")

MISSING_TOKEN = "Missing Authentication Token"
INVALID_TOKEN = "The security token included in the request is invalid."
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
WRONG_REGION = "Credential should be scoped to a valid region. "
WRONG_SERVICE = f"Credential should be scoped to correct service: '{SERVICE}'. "
TOO_LONG = "Request Too Long"
INTERNAL_ERROR = "Internal server error"


class Rejection(Exception):
    """A request API Gateway answers itself, without calling the function."""

    def __init__(self, status: int, message: str, error_type: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


def _missing_token() -> Rejection:
    return Rejection(403, MISSING_TOKEN, "MissingAuthenticationTokenException")


def _incomplete(message: str) -> Rejection:
    return Rejection(403, message, "IncompleteSignatureException")


def _invalid_signature(message: str = SIGNATURE_MISMATCH) -> Rejection:
    return Rejection(403, message, "InvalidSignatureException")


def _unrecognized() -> Rejection:
    return Rejection(403, INVALID_TOKEN, "UnrecognizedClientException")


# -- Signature Version 4 -------------------------------------------------------


@dataclass(frozen=True)
class Authorization:
    """The parts of an ``AWS4-HMAC-SHA256`` Authorization header."""

    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str


def _hashed(value: str) -> str:
    """A header value as AWS quotes it in errors: hashed, so that nothing secret is echoed."""
    return base64.b64encode(hashlib.sha256(value.encode()).digest()).decode()


def parse_authorization(value: str) -> Authorization:
    """Split an Authorization header, refusing it the way AWS does when it is malformed."""
    algorithm, _, rest = value.strip().partition(" ")
    params: dict[str, str] = {}
    for part in re.split(r"[,\s]+", rest.strip()):
        if not part:
            continue
        key, equals, item = part.partition("=")
        if not equals:
            raise _incomplete(
                "Invalid key=value pair (missing equal-sign) in Authorization header "
                f"(hashed with SHA-256 and encoded with Base64): '{_hashed(value)}'."
            )
        params[key] = item
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not params.get(name)
    ]
    if missing:
        raise _incomplete(
            " ".join(missing) + " Authorization header (hashed with SHA-256 and encoded with "
            f"Base64): '{_hashed(value)}'."
        )
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'.")
    scope = params["Credential"].split("/")
    if len(scope) != 5:
        raise _incomplete(
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{params['Credential']}'"
        )
    signed = tuple(name.strip().lower() for name in params["SignedHeaders"].split(";"))
    return Authorization(*scope, signed_headers=signed, signature=params["Signature"])


def request_timestamp(headers: HTTPMessage) -> str:
    """The signing time in ISO 8601 basic format, from ``X-Amz-Date`` or else ``Date``."""
    amz_date = headers.get("X-Amz-Date")
    if amz_date is not None:
        amz_date = amz_date.strip()
        if not _AMZ_DATE_PATTERN.match(amz_date):
            raise _incomplete(
                f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. "
                "See http://en.wikipedia.org/wiki/ISO_8601"
            )
        try:
            time.strptime(amz_date, _AMZ_DATE)
        except ValueError:
            raise _incomplete(
                f"Date must be a valid ISO-8601 'basic format' date: '{amz_date}'."
            ) from None
        return amz_date
    date = headers.get("Date")
    if date is None:
        raise _incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    try:
        parsed = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError):
        raise _incomplete(f"Date must be in RFC 1123 format. Got '{date}'.") from None
    if parsed.tzinfo is None:
        # "-0000" (what Python's formatdate writes) and HTTP dates are UTC.
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return time.strftime(_AMZ_DATE, time.gmtime(parsed.timestamp()))


class _ReceivedRequestSigner(SigV4Auth):
    """botocore's SigV4 signer, made to recompute the signature of a request as received.

    A signer chooses which headers to sign; a verifier must use exactly the ones
    the client listed, whatever they are (botocore itself would never sign
    ``User-Agent`` or ``Expect``, other clients may). The payload hash is always
    the hash of the bytes that arrived: a client's ``X-Amz-Content-Sha256`` is
    only a signed header like any other, never trusted to stand for the body.
    """

    def __init__(
        self, credentials: Credentials, region: str, signed: HTTPHeaders, body: bytes
    ) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed = signed
        self._body = body

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return self._signed

    def payload(self, request: AWSRequest) -> str:
        return hashlib.sha256(self._body).hexdigest()

    def canonical_query_string(self, request: AWSRequest) -> str:
        # Each name and value is decoded and encoded again the one way SigV4 allows,
        # so the verdict does not depend on how the client escaped its URL.
        pairs = []
        for pair in urlsplit(request.url).query.split("&"):
            if not pair:
                continue
            key, _, value = pair.partition("=")
            pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
        return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def expected_signature(
    *,
    method: str,
    url: str,
    headers: HTTPMessage,
    signed_headers: tuple[str, ...],
    body: bytes,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    timestamp: str,
) -> str:
    """The signature a client holding ``secret_access_key`` sends for this request.

    Parameters
    ----------
    url
        ``http://{Host header as received}{request target as received}``.
    headers
        All the headers received; only those named in ``signed_headers`` count,
        with every value of a repeated header.
    timestamp
        The signing time (``YYYYMMDDTHHMMSSZ``); its date is the credential scope's.
    """
    signed = HTTPHeaders()
    for name in signed_headers:
        for value in headers.get_all(name) or ():
            signed[name] = value
    signer = _ReceivedRequestSigner(
        Credentials(access_key_id, secret_access_key), region, signed, body
    )
    request = AWSRequest(method=method, url=url)
    request.context["timestamp"] = timestamp
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)


# -- the gateway ---------------------------------------------------------------


@dataclass
class ReceivedRequest:
    """One HTTP request as the gateway sees it, body read."""

    method: str
    target: str
    headers: HTTPMessage
    body: bytes
    source_ip: str
    path: str = field(init=False)
    query: str = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        self.path = parts.path or "/"
        self.query = parts.query


@dataclass(frozen=True)
class Caller:
    """The IAM user whose active key signed the request."""

    access_key_id: str
    user_name: str
    user_id: str


def routed(method: str, target: str) -> bool:
    """Whether API Gateway has a method for this request: ``GET``/``POST`` ``/v1/{proxy+}``."""
    path = urlsplit(target).path
    return method in METHODS and path.startswith(PREFIX) and len(path) > len(PREFIX)


class LocalApiGateway:
    """API Gateway (REST API, ``AWS_IAM`` authorization, Lambda proxy) on loopback.

    Each request gets a handler invocation of its own, as Lambda gives each request an
    execution environment: an instance serves one request at a time; a request that
    finds every instance busy, with ``concurrency`` of them made, waits for one.
    The ``api`` handler needs ``concurrency=1`` (the default): the Powertools resolver
    keeps the request it serves on its class, so one process holds one request at a
    time, as a Lambda execution environment does; two concurrent requests in one
    process would read each other's bodies and callers.

    Parameters
    ----------
    make_handler
        Makes one instance of the Lambda handler, as a cold start would:
        ``handler(event, context)`` returning
        ``{"statusCode", "headers" | "multiValueHeaders", "body", "isBase64Encoded"}``.
    concurrency
        How many instances may serve requests at once (Lambda's reserved concurrency).
    credentials
        Where the secret of each access key is kept.
    iam
        A boto3 IAM client on the emulator; it says, at every request, whether
        the key is still active, and gives the user's id.
    region, account
        The region a signature must be scoped to and the account in ARNs.
    stage
        The stage name in the request context.
    clock
        Seconds since the epoch; the signing time must be within five minutes of it.
    max_body_bytes
        API Gateway's payload limit (10 MB); a larger body is refused with 413.
    """

    def __init__(
        self,
        *,
        make_handler: HandlerFactory,
        credentials: CredentialStore,
        iam: Any,
        region: str,
        account: str,
        stage: str = "prod",
        clock: Callable[[], float] = time.time,
        max_body_bytes: int = 10 * 1024 * 1024,
        concurrency: int = 1,
        on_wait: Callable[[], None] = lambda: None,
    ) -> None:
        self.make_handler = make_handler
        self.credentials = credentials
        self.iam = iam
        self.region = region
        self.account = account
        self.stage = stage
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._user_ids: dict[str, str] = {}
        self.concurrency = concurrency
        self.on_wait = on_wait
        """Called when a request finds every instance busy and waits (a hook for tests)."""
        self.instances = 0
        """How many handler instances have been made (cold starts)."""
        self._idle: list[Handler] = []
        self._pool = threading.Condition()

    # -- lifecycle -------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:PORT``; clients call ``{endpoint}/v1/…``."""
        if self._server is None:
            raise RuntimeError("the local API gateway is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        """Start serving in a daemon thread (once); return the base URL."""
        with self._lock:
            if self._server is None:
                server = _Server(("127.0.0.1", 0), self)
                thread = threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.05},  # how soon stop() is heard
                    name="local-api-gateway",
                    daemon=True,
                )
                thread.start()
                self._server, self._thread = server, thread
            return self.endpoint

    def stop(self) -> None:
        """Stop serving and release the port. Calling it again does nothing."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        if thread is not None:
            thread.join()
        server.server_close()

    def __enter__(self) -> LocalApiGateway:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- a request -------------------------------------------------------------

    def authenticate(self, request: ReceivedRequest) -> Caller:
        """Verify the request's SigV4 signature and the key's state; raise ``Rejection``."""
        value = request.headers.get("Authorization")
        if value is None or not value.strip():
            raise _missing_token()
        auth = parse_authorization(value)
        if "host" not in auth.signed_headers and ":authority" not in auth.signed_headers:
            raise _incomplete(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
            )
        timestamp = request_timestamp(request.headers)
        if auth.terminator != TERMINATOR:
            raise _invalid_signature(
                f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
                f"not '{auth.terminator}'. "
            )
        if auth.region != self.region:
            raise _invalid_signature(WRONG_REGION)
        if auth.service != SERVICE:
            raise _invalid_signature(WRONG_SERVICE)
        if auth.date != timestamp[:8]:
            raise _invalid_signature(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{auth.date}' != '{timestamp[:8]}', from '{timestamp}'."
            )
        self._check_skew(timestamp)

        credential = self.credentials.get(auth.access_key_id)
        if credential is None or not self._active(auth.access_key_id, credential.user_name):
            raise _unrecognized()
        host = request.headers.get("Host", "")
        expected = expected_signature(
            method=request.method,
            url=f"http://{host}{request.path}" + (f"?{request.query}" if request.query else ""),
            headers=request.headers,
            signed_headers=auth.signed_headers,
            body=request.body,
            access_key_id=auth.access_key_id,
            secret_access_key=credential.secret_access_key,
            region=self.region,
            timestamp=timestamp,
        )
        if not hmac.compare_digest(expected.encode(), auth.signature.encode()):
            raise _invalid_signature()
        return Caller(
            access_key_id=auth.access_key_id,
            user_name=credential.user_name,
            user_id=self._user_id(auth.access_key_id, credential.user_name),
        )

    def _check_skew(self, timestamp: str) -> None:
        signed_at = calendar.timegm(time.strptime(timestamp, _AMZ_DATE))
        now = int(self.clock())
        if signed_at < now - MAX_SKEW_SECONDS:
            raise _invalid_signature(
                f"Signature expired: {timestamp} is now earlier than "
                f"{_amz_date(now - MAX_SKEW_SECONDS)} ({_amz_date(now)} - 5 min.)"
            )
        if signed_at > now + MAX_SKEW_SECONDS:
            raise _invalid_signature(
                f"Signature not yet current: {timestamp} is still later than "
                f"{_amz_date(now + MAX_SKEW_SECONDS)} ({_amz_date(now)} + 5 min.)"
            )

    def _active(self, access_key_id: str, user_name: str) -> bool:
        """Ask IAM now: a key deactivated or deleted a moment ago is refused at once."""
        try:
            pages = self.iam.get_paginator("list_access_keys").paginate(UserName=user_name)
            keys = [key for page in pages for key in page["AccessKeyMetadata"]]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return False
            raise
        return any(
            key["AccessKeyId"] == access_key_id and key["Status"] == "Active" for key in keys
        )

    def _user_id(self, access_key_id: str, user_name: str) -> str:
        # A key belongs to one user for its whole life, so the id is asked once per key.
        user_id = self._user_ids.get(access_key_id)
        if user_id is None:
            user_id = self.iam.get_user(UserName=user_name)["User"]["UserId"]
            self._user_ids[access_key_id] = user_id
        return user_id

    def event(self, request: ReceivedRequest, caller: Caller) -> dict[str, Any]:
        """The API Gateway REST API (payload 1.0) proxy event for a verified request."""
        now = self.clock()
        path = unquote(request.path)
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        forwarded = {
            "X-Forwarded-For": request.source_ip,
            "X-Forwarded-Port": str(self._port()),
            "X-Forwarded-Proto": "http",
        }
        for name, value in forwarded.items():
            if name not in headers:
                headers[name] = value
                multi_headers[name] = [value]
        query: dict[str, str] = {}
        multi_query: dict[str, list[str]] = {}
        for pair in request.query.split("&"):
            if not pair:
                continue
            key, _, value = pair.partition("=")
            key, value = unquote(key.replace("+", " ")), unquote(value.replace("+", " "))
            query[key] = value
            multi_query.setdefault(key, []).append(value)
        body: str | None
        encoded = False
        if not request.body:
            body = None
        else:
            try:
                body = request.body.decode("utf-8")
            except UnicodeDecodeError:
                body = base64.b64encode(request.body).decode()
                encoded = True
        request_id = str(uuid.uuid4())
        return {
            "resource": RESOURCE,
            "path": path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": {"proxy": path[len(PREFIX) :]},
            "stageVariables": None,
            "body": body,
            "isBase64Encoded": encoded,
            "requestContext": {
                "accountId": self.account,
                "apiId": "local",
                "domainName": request.headers.get("Host", ""),
                "domainPrefix": request.headers.get("Host", "").split(".", 1)[0],
                "extendedRequestId": request_id,
                "httpMethod": request.method,
                "identity": {
                    "accessKey": caller.access_key_id,
                    "accountId": self.account,
                    "caller": caller.user_id,
                    "cognitoAmr": None,
                    "cognitoAuthenticationProvider": None,
                    "cognitoAuthenticationType": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "principalOrgId": None,
                    "sourceIp": request.source_ip,
                    "user": caller.user_id,
                    "userAgent": request.headers.get("User-Agent"),
                    "userArn": f"arn:aws:iam::{self.account}:user/{caller.user_name}",
                },
                "path": f"/{self.stage}{path}",
                "protocol": "HTTP/1.1",
                "requestId": request_id,
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "requestTimeEpoch": int(now * 1000),
                "resourceId": "local",
                "resourcePath": RESOURCE,
                "stage": self.stage,
            },
        }

    def invoke(self, event: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Call the handler; a failure or a malformed answer is API Gateway's 502."""
        context = LambdaContext.for_invocation(
            FUNCTION_NAME, self.region, self.account, HANDLER_TIMEOUT_SECONDS
        )
        handler = None
        try:
            handler = self._take_instance()
            return _proxy_response(handler(event, context))
        except Exception:
            logger.exception("the api handler failed on %s %s", event["httpMethod"], event["path"])
            headers = [
                ("Content-Type", "application/json"),
                ("x-amzn-ErrorType", "InternalServerErrorException"),
            ]
            return 502, headers, _message(INTERNAL_ERROR)
        finally:
            if handler is not None:
                with self._pool:
                    self._idle.append(handler)
                    self._pool.notify()

    def _take_instance(self) -> Handler:
        """An idle instance, a new one while fewer than ``concurrency`` exist, or else the
        first to become idle."""
        with self._pool:
            while not self._idle and self.instances >= self.concurrency:
                self.on_wait()
                self._pool.wait()
            if self._idle:
                return self._idle.pop()
            self.instances += 1
        try:
            return self.make_handler()
        except BaseException:
            with self._pool:
                self.instances -= 1
                self._pool.notify()
            raise

    def _port(self) -> int:
        server = self._server
        return server.server_address[1] if server is not None else 0


def _amz_date(epoch: float) -> str:
    return time.strftime(_AMZ_DATE, time.gmtime(epoch))


def _message(text: str) -> bytes:
    return json.dumps({"message": text}).encode()


_HOP_BY_HOP = {"content-length", "connection", "transfer-encoding", "keep-alive"}


def _proxy_response(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body from a Lambda proxy integration answer.

    Raises
    ------
    ValueError
        When the answer is not one API Gateway accepts.
    """
    if not isinstance(response, Mapping):
        raise ValueError(f"the handler returned {type(response).__name__}, not a proxy response")
    status = response.get("statusCode", 200)
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ValueError(f"the handler returned statusCode {status!r}")
    headers: list[tuple[str, str]] = []
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(value)) for value in values)
    for name, value in (response.get("headers") or {}).items():
        if (name.lower(), str(value)) not in {(n.lower(), v) for n, v in headers}:
            headers.append((name, str(value)))
    headers = [(name, value) for name, value in headers if name.lower() not in _HOP_BY_HOP]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    body = response.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise ValueError(f"the handler returned a body of type {type(body).__name__}")
    elif response.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body, validate=True)
        except binascii.Error as error:
            raise ValueError(f"the handler's base64 body does not decode: {error}") from None
    else:
        payload = body.encode("utf-8")
    return status, headers, payload


# -- HTTP ----------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], gateway: LocalApiGateway) -> None:
        super().__init__(address, _RequestHandler)
        self.gateway = gateway


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_SECONDS
    _unread = False
    """Whether a body the client sent is still on the socket, unread."""

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_POST

    def _serve(self) -> None:
        gateway = self.server.gateway
        request_id = str(uuid.uuid4())
        self._unread = self._carries_body()
        try:
            if not routed(self.command, self.path):
                # API Gateway answers a resource or method it does not have this way.
                raise _missing_token()
            try:
                body = self._read_body(gateway.max_body_bytes)
            except OSError:
                # The client went away or stalled mid-body: there is no one to answer.
                self.close_connection = True
                return
            request = ReceivedRequest(
                method=self.command,
                target=self.path,
                headers=self.headers,
                body=body,
                source_ip=self.client_address[0],
            )
            caller = gateway.authenticate(request)
            event = gateway.event(request, caller)
        except Rejection as rejection:
            self._refuse(rejection.status, rejection.error_type, rejection.message, request_id)
            return
        except Exception:
            logger.exception("the local API gateway failed on %s %s", self.command, self.path)
            self._refuse(500, "InternalFailure", INTERNAL_ERROR, request_id)
            return
        status, headers, payload = gateway.invoke(event)
        self._send(status, headers, payload, event["requestContext"]["requestId"])

    def _carries_body(self) -> bool:
        lengths = self.headers.get_all("Content-Length") or []
        return "Transfer-Encoding" in self.headers or any(v.strip() != "0" for v in lengths)

    def _refuse(self, status: int, error_type: str, message: str, request_id: str) -> None:
        """Answer with API Gateway's error shape; drop the connection if a body is left.

        A body left on the socket would be read as the next request, so the
        connection closes after the answer; it is drained for a moment first,
        so that a client still sending gets the answer rather than a reset.
        """
        if self._unread:
            self.close_connection = True
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)]
        self._send(status, headers, _message(message), request_id)
        if self._unread:
            self._linger()

    def _linger(self, seconds: float = 2.0, most_bytes: int = 64 * 1024 * 1024) -> None:
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + seconds
            drained = 0
            while drained < most_bytes:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.connection.settimeout(left)
                chunk = self.connection.recv(256 * 1024)
                if not chunk:
                    return
                drained += len(chunk)
        except OSError:
            return

    def _read_body(self, limit: int) -> bytes:
        """Read the body without ever holding more than ``limit`` bytes of it."""
        encoding = self.headers.get("Transfer-Encoding")
        if encoding is not None:
            if encoding.strip().lower() != "chunked":
                raise Rejection(
                    501, f"Transfer-Encoding '{encoding}' is not supported", "NotImplemented"
                )
            body = self._read_chunked(limit)
            self._unread = False
            return body
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            # HTTP/1.1: neither Content-Length nor Transfer-Encoding means no body. Qt
            # sends a POST with nothing to send this way.
            return b""
        if len(set(lengths)) != 1 or not lengths[0].strip().isdigit():
            raise Rejection(400, "Invalid Content-Length", "BadRequestException")
        length = int(lengths[0])
        if length > limit:
            raise Rejection(413, TOO_LONG, "RequestTooLargeException")
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise OSError("the client closed the connection before its body ended")
        self._unread = False
        return body

    def _read_chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise Rejection(400, "Invalid chunked body", "BadRequestException") from None
            if size == 0:
                while self.rfile.readline(8192).strip():  # trailers
                    pass
                return b"".join(chunks)
            total += size
            if total > limit:
                raise Rejection(413, TOO_LONG, "RequestTooLargeException")
            chunk = self.rfile.read(size)
            self.rfile.readline(8)
            if len(chunk) != size:
                raise OSError("the client closed the connection before its body ended")
            chunks.append(chunk)

    def _send(
        self, status: int, headers: list[tuple[str, str]], payload: bytes, request_id: str
    ) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("x-amzn-RequestId", request_id)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the per-request access log out of the output."""
