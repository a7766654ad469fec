"""Sentry set-up, PHI scrubbing and JSON logging for the backend and the portal.

Nothing a patient could be identified by may leave a component in a log line, a
metric or a Sentry event. The rules that recognise identity values are the
contract every component shares (:mod:`contracts.phi_redaction`); here they are
applied to Sentry events and breadcrumbs (:func:`scrub_event`,
:func:`scrub_breadcrumb`) and to log lines (:class:`JsonFormatter`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import warnings
from datetime import UTC, datetime
from typing import IO, Any

import sentry_sdk
from sentry_sdk.transport import Transport

from contracts.phi_redaction import FILTERED, mentions_identity, redact, redact_text

__all__ = [
    "JsonFormatter",
    "configure_logging",
    "init_sentry",
    "scrub_breadcrumb",
    "scrub_event",
]

#: Request headers dropped whole from Sentry events (credentials, client addresses).
_SECRET_HEADER = re.compile(
    r"auth|cookie|token|secret|key|signature|session|forwarded|real-ip|x-amz", re.IGNORECASE
)

#: Parts of a Sentry event's ``request`` that are dropped whole.
_DROPPED_REQUEST_PARTS = ("data", "cookies", "query_string", "env")

#: Query and fragment of an outgoing HTTP call, in breadcrumb and span data.
_DROPPED_HTTP_DATA = ("http.query", "http.fragment")


# ---------------------------------------------------------------------------
# Sentry
# ---------------------------------------------------------------------------


def _without_query(url: Any) -> Any:
    if not isinstance(url, str):
        return url
    return url.split("#", 1)[0].split("?", 1)[0]


def _strip_http_data(data: Any) -> None:
    if isinstance(data, dict):
        for key in _DROPPED_HTTP_DATA:
            data.pop(key, None)
        if "url" in data:
            data["url"] = _without_query(data["url"])


def _frames(event: dict[str, Any]) -> list[dict[str, Any]]:
    stacktraces = [event.get("stacktrace")]
    for section in ("exception", "threads"):
        container = event.get(section)
        values = container.get("values") if isinstance(container, dict) else None
        for item in values if isinstance(values, list) else ():
            if isinstance(item, dict):
                stacktraces.append(item.get("stacktrace"))
    frames: list[dict[str, Any]] = []
    for stacktrace in stacktraces:
        if isinstance(stacktrace, dict) and isinstance(stacktrace.get("frames"), list):
            frames.extend(frame for frame in stacktrace["frames"] if isinstance(frame, dict))
    return frames


def _scrub_request(request: Any) -> Any:
    if not isinstance(request, dict):
        return request
    for part in _DROPPED_REQUEST_PARTS:
        request.pop(part, None)
    if "url" in request:
        request["url"] = _without_query(request["url"])
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {
            name: value
            for name, value in headers.items()
            if not (isinstance(name, str) and _SECRET_HEADER.search(name))
        }
    return request


def _scrub_logentry(logentry: Any) -> None:
    # A template that names a field ("PatientName=%s") says its parameters are
    # identity values that the text rules cannot see on their own.
    if not isinstance(logentry, dict) or not logentry.get("params"):
        return
    template = logentry.get("message")
    if isinstance(template, str) and mentions_identity(template):
        params = logentry["params"]
        if isinstance(params, dict):
            logentry["params"] = dict.fromkeys(params, FILTERED)
        elif isinstance(params, list | tuple):
            logentry["params"] = [FILTERED] * len(params)
        else:
            logentry["params"] = FILTERED


def scrub_event(event: dict[str, Any], hint: dict[str, Any] | None) -> dict[str, Any]:
    """Remove patient identity from a Sentry event (``before_send``).

    Drops ``user``, the request's body, cookies, query string, environment and
    credential headers, and every stack frame's local variables; filters the
    parameters of a log template that names an identity field; then applies
    :func:`redact` to the whole event, which covers exception values,
    ``message``, ``logentry``, ``extra``, ``contexts``, ``tags``,
    ``breadcrumbs`` and span data.

    Parameters
    ----------
    event
        The event as the SDK prepared it; it is not modified.
    hint
        Unused; part of the callback's signature.

    Returns
    -------
    dict
        The scrubbed copy, which the SDK sends.
    """
    scrubbed: dict[str, Any] = redact(event)
    scrubbed.pop("user", None)
    if "request" in scrubbed:
        scrubbed["request"] = _scrub_request(scrubbed["request"])
    for frame in _frames(scrubbed):
        frame.pop("vars", None)
    _scrub_logentry(scrubbed.get("logentry"))
    breadcrumbs = scrubbed.get("breadcrumbs")
    crumbs = breadcrumbs.get("values") if isinstance(breadcrumbs, dict) else breadcrumbs
    for crumb in crumbs if isinstance(crumbs, list) else ():
        if isinstance(crumb, dict):
            _strip_http_data(crumb.get("data"))
    for span in scrubbed.get("spans") or ():
        if isinstance(span, dict):
            _strip_http_data(span.get("data"))
    return scrubbed


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None) -> dict[str, Any]:
    """Remove patient identity from a breadcrumb as it is recorded (``before_breadcrumb``).

    Applies :func:`redact`, and drops the query and fragment of an HTTP call.
    The breadcrumb passed in is not modified.
    """
    scrubbed: dict[str, Any] = redact(crumb)
    _strip_http_data(scrubbed.get("data"))
    return scrubbed


def init_sentry(
    dsn: str | None,
    *,
    component: str,
    environment: str,
    release: str | None = None,
    transport: Transport | type[Transport] | None = None,
) -> bool:
    """Start reporting errors to Sentry, with PHI scrubbing, when a DSN is configured.

    Parameters
    ----------
    dsn
        The project's DSN; ``None`` or empty means Sentry is off, and nothing
        is initialised (a client started earlier in the process is left as it is).
    component
        Tagged on every event as ``component`` (``api``, ``worker``, ``agent`` …).
    environment
        Sentry environment (``production``, ``staging``, ``local`` …).
    release
        Release name; ``None`` lets the SDK detect it.
    transport
        A transport to use instead of HTTP (tests).

    Returns
    -------
    bool
        ``True`` when Sentry was initialised, ``False`` when it is off.

    Notes
    -----
    Calling it again replaces the client; the previous one is flushed and
    closed first, so tests can initialise it more than once.
    """
    if not dsn or not dsn.strip():
        return False
    previous = sentry_sdk.get_client()
    if previous.is_active():
        previous.close()
    options: dict[str, Any] = {
        "dsn": dsn.strip(),
        "environment": environment,
        "release": release,
        "send_default_pii": False,
        # Frame locals can hold raw headers, task files and request bodies.
        "include_local_variables": False,
        "max_request_body_size": "never",
        "before_send": scrub_event,
        "before_send_transaction": scrub_event,
        "before_breadcrumb": scrub_breadcrumb,
    }
    if transport is not None:
        options["transport"] = transport
    with warnings.catch_warnings():
        # Newer 2.x releases deprecate send_default_pii in favour of a structured
        # option; setting it to False keeps the SDK's own key scrubber in place.
        warnings.filterwarnings(
            "ignore", message=".*send_default_pii.*", category=DeprecationWarning
        )
        sentry_sdk.init(**options)
    # The global scope reaches events from every thread and isolation scope.
    sentry_sdk.get_global_scope().set_tag("component", component)
    return True


# ---------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------

#: Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__
) | {"message", "asctime", "taskName"}


def _json_default(value: Any) -> str:
    return redact_text(str(value))


class JsonFormatter(logging.Formatter):
    """Formats each record as one JSON object on one line.

    Fields: ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``,
    ``message``, then every ``extra`` key (``task_id``, ``site_id`` …), then
    ``exception`` and ``stack`` when present. The message, the extras (by key
    and by text) and the traceback go through the redaction rules, as a second
    line of defence. An extra named like a base field does not replace it.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        extras = {
            key: value for key, value in record.__dict__.items() if key not in _RECORD_ATTRIBUTES
        }
        for key, value in redact(extras).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = redact_text(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact_text(self.formatStack(record.stack_info))
        return json.dumps(entry, default=_json_default)


class _JsonHandler(logging.StreamHandler):
    """The handler :func:`configure_logging` installs, told apart from others by its type."""


def configure_logging(level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Send the root logger's records to ``stream`` as JSON lines.

    Replaces the handler an earlier call installed and leaves every other
    handler in place.

    Parameters
    ----------
    level
        Root logger level name (``DEBUG``, ``INFO``, ``WARNING`` …, any case).
    stream
        Where the lines go; standard error when ``None``.

    Raises
    ------
    ValueError
        For a level name that :mod:`logging` does not know.
    """
    levels = logging.getLevelNamesMapping()
    name = level.strip().upper()
    if name not in levels:
        raise ValueError(
            f"unknown log level {level!r}; use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
        )
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _JsonHandler):
            root.removeHandler(handler)
            handler.close()
    handler = _JsonHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(levels[name])
