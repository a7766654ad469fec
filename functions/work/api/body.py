"""The JSON body of an API request, read the same way whatever content type it came with.

The Yarra client posts its JSON with Qt's ``sendCustomRequest`` and sets no content
type, so Qt 5.15 sends none; Qt's ``post`` adds ``application/x-www-form-urlencoded``
(unsigned), and other clients send ``text/plain`` or ``application/json``. Powertools
would parse a form-encoded body as a form and find every field missing. Every
endpoint of the API takes JSON and nothing else, so the body
is read as JSON whatever the header says, and a body that is not sane JSON is refused
here, with a short message, before any endpoint sees it.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from functions.core.errors import YarraCloudError

MAX_BODY_BYTES = 256 * 1024
"""The largest body any endpoint needs (``v1/jobs`` with 1,000 task ids is ~40 KB)."""
MAX_DEPTH = 32
"""How deep arrays and objects may nest; the deepest body an endpoint takes is 2."""
EXCERPT_CHARS = 60


class BadBody(YarraCloudError):
    """The body is not JSON the API can read (HTTP 400)."""


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """``repr(value)``, cut to about ``limit`` characters: what an error may quote of input."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def read_json_body(event: dict[str, Any]) -> str | None:
    """The request body as JSON text (None when empty), whatever its content type.

    Raises
    ------
    BadBody
        When the body is over ``MAX_BODY_BYTES``, not UTF-8, not JSON, or nested
        deeper than ``MAX_DEPTH``.
    """
    body = event.get("body")
    if not body:
        return None
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except binascii.Error:
            raise BadBody("the body's base64 encoding is broken") from None
    else:
        raw = body.encode("utf-8", errors="surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        raise BadBody(
            f"the body is {len(raw)} bytes; the API takes at most {MAX_BODY_BYTES} per request"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(f"the body is not UTF-8 (byte {exc.start}); send JSON in UTF-8") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else "invalid"
        where = f" at character {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise BadBody(f"the body is not JSON ({message}{where})") from None
    if depth(value) > MAX_DEPTH:
        raise _too_deep()
    return text


def as_json_request(event: dict[str, Any], text: str | None) -> dict[str, Any]:
    """``event`` with ``text`` as its body, declared as JSON so the endpoints parse it as such."""
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    multi = {
        k: v
        for k, v in (event.get("multiValueHeaders") or {}).items()
        if k.lower() != "content-type"
    }
    headers["Content-Type"] = "application/json"
    multi["Content-Type"] = ["application/json"]
    return {
        **event,
        "headers": headers,
        "multiValueHeaders": multi,
        "body": text,
        "isBase64Encoded": False,
    }


def depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (0 for a scalar), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if level <= MAX_DEPTH:
            stack.extend((child, level + 1) for child in children)
    return deepest


def _too_deep() -> BadBody:
    return BadBody(f"the body nests arrays or objects deeper than {MAX_DEPTH} levels")
