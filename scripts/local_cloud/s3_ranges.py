"""Ranged GETs that read only their range, as S3 serves them.

moto answers a ranged ``GetObject`` by copying the whole object out of its buffer and
then slicing the copy, so a 5 MiB range of a 1 GB object costs as much as the object:
a download in ranges (every SDK's, and ours) takes time quadratic in the object's size.
:func:`apply` makes a GET that carries a ``Range`` header see the object as a view that
reads only the bytes asked for; every other request sees the object's bytes as before.
Every emulator applies it, for the transfers' ranged downloads.

Upstream: moto's ``S3Response.key_response`` (``moto/s3/responses.py``) builds a ranged
GET's answer from ``FakeKey.value`` (a copy of the whole object) and slices it in
``_handle_range_header``; reading just the range from the key's buffer (seek, read) there
would make the patch unneeded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from scripts.local_cloud.moto_version import require_written_for

_ranged = threading.local()


class ObjectView:
    """The bytes of one stored object, read from its buffer only when sliced."""

    def __init__(self, key: Any) -> None:
        self._key = key

    def __len__(self) -> int:
        return self._key.size

    def __bool__(self) -> bool:
        return self._key.size > 0

    def __getitem__(self, index: slice) -> bytes:
        start, stop, step = index.indices(self._key.size)
        if step != 1:
            raise ValueError("an object view is sliced contiguously")
        with self._key.lock:
            self._key._value_buffer.seek(start)
            return self._key._value_buffer.read(max(0, stop - start))

    def __bytes__(self) -> bytes:
        return self[:]


def apply() -> None:
    """Patch moto's S3 in this process so that a ranged GET reads only its range."""
    require_written_for()
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    stored_value = FakeKey.value

    def value(self: FakeKey) -> bytes | ObjectView:
        if getattr(_ranged, "active", False):
            return ObjectView(self)
        return stored_value.fget(self)

    FakeKey.value = property(value, stored_value.fset)

    key_response = S3Response.key_response

    def ranged_key_response(
        self: S3Response, request: Any, full_url: str, headers: dict[str, Any]
    ) -> Any:
        _ranged.active = request.method == "GET" and bool(request.headers.get("range"))
        try:
            status, response_headers, body = key_response(self, request, full_url, headers)
        finally:
            _ranged.active = False
        if isinstance(body, ObjectView):
            body = bytes(body)
        return status, response_headers, body

    S3Response.key_response = _keep_name(ranged_key_response, key_response)


def _keep_name(wrapper: Callable, wrapped: Callable) -> Callable:
    wrapper.__name__ = wrapped.__name__
    wrapper.__qualname__ = wrapped.__qualname__
    return wrapper
