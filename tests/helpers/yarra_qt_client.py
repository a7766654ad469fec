"""Requests sent as the Yarra cloud client sends them: Qt's network stack, Yarra's signing.

Run with an interpreter that has PyQt5 (Debian's ``python3-pyqt5``, in ``/usr/bin/python3``):
it reads ``{"key", "secret", "region", "requests": [{"url", "body", "headers", "unsigned"}]}``
as JSON on stdin and writes one ``{"status", "body"}`` per request as a JSON list on stdout.

What the Yarra client does, and this does too: a ``QNetworkRequest`` with the raw headers
``User-Agent: Qt``, ``Host``, ``X-Amz-Date`` and ``x-amz-content-sha256`` (plus any the
caller adds), all of them signed (names lower-cased, values trimmed), the canonical URI the
URL's path; ``sendCustomRequest("POST", ...)`` with the body as a ``QBuffer``, or no device
for an empty body. No content type is set unless a request names one: Qt 5.15 then sends
none, while ``QNetworkAccessManager::post`` adds ``application/x-www-form-urlencoded``
after signing; ``unsigned`` headers are set after signing to send that.
Only the standard library and PyQt5 are used, since this interpreter has no botocore.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import sys
from urllib.parse import urlsplit

from PyQt5.QtCore import QBuffer, QByteArray, QCoreApplication, QEventLoop, QUrl
from PyQt5.QtNetwork import QNetworkAccessManager, QNetworkReply, QNetworkRequest

SERVICE = "execute-api"
USER_AGENT = "Qt"


def _hmac(key: bytes, data: str) -> bytes:
    return hmac.new(key, data.encode(), hashlib.sha256).digest()


def signed_headers(
    url: str, body: bytes, headers: dict[str, str], key: str, secret: str, region: str
) -> dict[str, str]:
    """The headers Yarra sets on the request, Authorization included (SigV4, AWS's docs)."""
    now = datetime.datetime.now(datetime.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    parts = urlsplit(url)
    all_headers = {
        **headers,
        "User-Agent": USER_AGENT,
        "Host": parts.netloc,
        "X-Amz-Date": amz_date,
        "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    canonical = dict(sorted((name.lower(), value.strip()) for name, value in all_headers.items()))
    names = ";".join(canonical)
    request = "\n".join(
        [
            "POST",
            parts.path,
            parts.query,
            "".join(f"{name}:{value}\n" for name, value in canonical.items()),
            names,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{amz_date[:8]}/{region}/{SERVICE}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(request.encode()).hexdigest()]
    )
    signing_key = _hmac(
        _hmac(_hmac(_hmac(f"AWS4{secret}".encode(), amz_date[:8]), region), SERVICE),
        "aws4_request",
    )
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    all_headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={names}, Signature={signature}"
    )
    return all_headers


def send(manager: QNetworkAccessManager, url: str, body: bytes, headers: dict[str, str]) -> dict:
    request = QNetworkRequest(QUrl(url))
    for name, value in headers.items():
        request.setRawHeader(name.encode(), value.encode())
    payload = QByteArray(body)
    device = None
    if body:
        device = QBuffer(payload)
        device.open(QBuffer.ReadOnly)
    reply = manager.sendCustomRequest(request, b"POST", device)
    loop = QEventLoop()
    reply.finished.connect(loop.quit)
    if not reply.isFinished():
        loop.exec_()
    status = reply.attribute(QNetworkRequest.HttpStatusCodeAttribute)
    answer = {
        "status": status,
        "body": bytes(reply.readAll()).decode("utf-8", errors="replace"),
        "error": None if reply.error() == QNetworkReply.NoError else reply.errorString(),
    }
    reply.deleteLater()
    return answer


def main() -> None:
    job = json.load(sys.stdin)
    app = QCoreApplication(sys.argv[:1])
    manager = QNetworkAccessManager()
    answers = []
    for item in job["requests"]:
        body = (item.get("body") or "").encode()
        headers = signed_headers(
            item["url"], body, item.get("headers") or {}, job["key"], job["secret"], job["region"]
        )
        headers.update(item.get("unsigned") or {})
        answers.append(send(manager, item["url"], body, headers))
    json.dump(answers, sys.stdout)
    del manager, app


if __name__ == "__main__":
    main()
