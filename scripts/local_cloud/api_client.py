"""A v1 API client that signs as the Yarra client does: SigV4 over the exact JSON body.

The signing is the agent's own (``agent.api.sign``); this client keeps every answer
as it came (status, parsed body, raw bytes) so tests can look at refusals too.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSRequest

from agent.api import sign


@dataclass
class Answer:
    status: int
    body: Any
    raw: bytes


@dataclass
class ApiClient:
    base_url: str
    access_key_id: str
    secret_access_key: str
    region: str

    def signed(self, endpoint: str, data: bytes, method: str = "POST") -> AWSRequest:
        return sign(
            method,
            f"{self.base_url}/v1/{endpoint}",
            data,
            access_key_id=self.access_key_id,
            secret=self.secret_access_key,
            region=self.region,
        )

    def post(self, endpoint: str, body: Any = None) -> Answer:
        data = b"" if body is None else json.dumps(body).encode()
        return send(self.signed(endpoint, data))

    def get(self, endpoint: str) -> Answer:
        return send(self.signed(endpoint, b"", method="GET"))


def send(request: AWSRequest, data: bytes | None = None) -> Answer:
    """Send a signed request as it is (``data`` replaces the body, to tamper with it)."""
    prepared = request.prepare()
    body = prepared.body if data is None else data
    http = urllib.request.Request(
        prepared.url, data=body or None, method=prepared.method, headers=dict(prepared.headers)
    )
    try:
        with urllib.request.urlopen(http, timeout=60) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw = error.read()
        status = error.code
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return Answer(status, parsed, raw)
