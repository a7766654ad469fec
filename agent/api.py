"""The v1 API client: ``POST {api}/v1/{endpoint}`` with JSON, signed with AWS SigV4.

It signs as the Yarra clients do (service ``execute-api``, the user's IAM key, over
the exact body) and turns every failure into :class:`~agent.errors.CloudError`:
``transient=True`` where a later retry can help (no connection, a timeout, 5xx,
429), ``transient=False`` where the request itself is refused (4xx, with the API's
own message). The client does not retry; the agent's loop does, with backoff.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from agent.errors import CloudError

SERVICE = "execute-api"
_TRANSIENT_STATUS = {408, 429}


def sign(
    method: str,
    url: str,
    data: bytes,
    *,
    access_key_id: str,
    secret: str,
    region: str,
) -> AWSRequest:
    """A request to ``url`` carrying ``data`` as JSON, signed with SigV4 for API Gateway."""
    request = AWSRequest(
        method=method, url=url, data=data, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(Credentials(access_key_id, secret), SERVICE, region).add_auth(request)
    return request


class CloudApi:
    """The cloud's v1 API as one site user sees it.

    Parameters
    ----------
    base_url
        The API's base URL (``[cloud] api_url``), without ``/v1``.
    access_key_id, secret, region
        The user's IAM key and the region it signs for.
    timeout_s
        Seconds to wait for a connection and for each answer.
    """

    def __init__(
        self,
        base_url: str,
        access_key_id: str,
        secret: str,
        region: str,
        *,
        timeout_s: float = 30,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.access_key_id = access_key_id
        self._secret = secret
        self.region = region
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._server_time: datetime | None = None
        self._skew_s: float | None = None

    def __repr__(self) -> str:
        return f"CloudApi({self.base_url!r}, access_key_id={self.access_key_id!r})"

    # -- endpoints ----------------------------------------------------------------------

    def user_status(self) -> dict[str, Any]:
        """``can_submit_jobs``, ``username``, ``in_bucket``, ``out_bucket``, ``region``
        (and ``reason`` when submission is blocked)."""
        return self.call("user_status")

    def modes(self) -> list[dict[str, Any]]:
        """The modes enabled at the site: ``[{Name, ClientConfig: {...}}]``."""
        return self.call("modes")

    def job_submit(self, uuid: str, task_file_name: str, recon_mode: str) -> dict[str, Any]:
        """Submit an uploaded task; the same job however often it is called."""
        body = {"name": uuid, "task_file_name": task_file_name, "recon_mode": recon_mode}
        return self.call("job_submit", body)

    def jobs(self, uuids: Sequence[str]) -> dict[str, Any]:
        """``{uuid: {batch_info: {status}, cost, id}}`` for those of ``uuids`` the cloud knows."""
        return self.call("jobs", list(uuids))

    def mode_destinations(self, mode: str) -> list[dict[str, Any]]:
        """Where the site stores ``mode``'s images: ``[{method, name, ...}]``."""
        return self.call("mode_destinations", {"recon_mode": mode})

    def job_status(self, uuid: str) -> dict[str, Any]:
        """One task: ``status``, ``status_times``, cost and the failure reason."""
        return self.call("job_status", {"name": uuid})

    def job_delivered(self, uuid: str) -> dict[str, Any]:
        """Tell the cloud the images are stored: the task becomes DELIVERED."""
        return self.call("job_delivered", {"name": uuid})

    def job_cancel(self, uuid: str) -> dict[str, Any]:
        """Stop a task and its job: the task becomes CANCELED."""
        return self.call("job_cancel", {"name": uuid})

    def destination_tests(self) -> list[str]:
        """The names of the site's destinations whose connection test the portal asked for."""
        return [str(name) for name in self.call("destination_tests").get("names", [])]

    def destination_test_result(self, name: str, *, ok: bool, message: str) -> dict[str, Any]:
        """Post what testing the destination ``name`` from the site found."""
        return self.call("destination_test_result", {"name": name, "ok": ok, "message": message})

    # -- clock --------------------------------------------------------------------------

    def server_time(self) -> datetime | None:
        """The cloud's time by the ``Date`` header of the last answer; None before any."""
        with self._lock:
            return self._server_time

    def clock_skew_s(self) -> float | None:
        """Seconds this host's clock is behind the cloud's (negative: ahead), at the last
        answer; None before any. The ``Date`` header has whole seconds, so ±1 s is noise.
        """
        with self._lock:
            return self._skew_s

    # -- transport ----------------------------------------------------------------------

    def call(self, endpoint: str, body: Any = None) -> Any:
        """POST ``body`` as JSON to ``v1/{endpoint}``; the parsed JSON answer.

        Raises
        ------
        CloudError
            ``transient=True`` for no connection, a timeout, 5xx and 429;
            ``transient=False`` for other refusals, with the API's message.
        """
        data = b"" if body is None else json.dumps(body).encode()
        request = sign(
            "POST",
            f"{self.base_url}/v1/{endpoint}",
            data,
            access_key_id=self.access_key_id,
            secret=self._secret,
            region=self.region,
        )
        prepared = request.prepare()
        http_request = urllib.request.Request(
            prepared.url, data=data or None, method="POST", headers=dict(prepared.headers)
        )
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout_s) as response:
                self._note_date(response.headers.get("Date"))
                raw = response.read()
        except urllib.error.HTTPError as error:
            self._note_date(error.headers.get("Date") if error.headers else None)
            raise self._refusal(endpoint, error.code, _read(error)) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, socket.timeout | TimeoutError):
                what = f"no answer within {self.timeout_s:g} s"
            else:
                what = str(reason) or reason.__class__.__name__
            raise CloudError(
                f"cannot reach the cloud API at {self.base_url} for {endpoint} ({what}); the"
                " agent retries, and if it persists check the network and [cloud] api_url",
                transient=True,
            ) from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise CloudError(
                f"the cloud API at {self.base_url} answered {endpoint} with something that is"
                " not JSON; check that [cloud] api_url is the API's URL",
                transient=False,
            ) from None

    def _refusal(self, endpoint: str, status: int, raw: bytes) -> CloudError:
        message = _message(raw)
        transient = status >= 500 or status in _TRANSIENT_STATUS
        if transient:
            hint = "the agent retries"
        elif status == 403:
            hint = (
                "check [cloud] access_key_id, the secret file and the host's clock, or ask the"
                " site's administrator for a new key"
            )
        elif status == 404:
            hint = "the cloud does not know this task (or it belongs to another user)"
        else:
            hint = "the task cannot go on as it is"
        return CloudError(
            f"the cloud API refused {endpoint} ({status}): {message}; {hint}",
            transient=transient,
            status=status,
        )

    def _note_date(self, header: str | None) -> None:
        if not header:
            return
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return
        with self._lock:
            self._server_time = when
            self._skew_s = when.timestamp() - time.time()


def _read(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()
    except (OSError, http.client.HTTPException):
        return b""


def _message(raw: bytes) -> str:
    """The API's own words: ``message`` (API Gateway, our handlers) or ``detail``."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "Message", "detail"):
            if body.get(key):
                text = body[key]
                return text if isinstance(text, str) else json.dumps(text)
    text = raw.decode("utf-8", errors="replace").strip()
    return text[:300] if text else "no message"
