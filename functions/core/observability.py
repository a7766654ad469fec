"""Sentry set-up, PHI scrubbing and JSON logging, shared by every component.

Nothing a patient could be identified by may leave a component in a log line, a
metric or a Sentry event. Raw-data headers, Yarra task and PHI files and DICOM
dumps name the same identity fields in a handful of syntaxes, so one set of
rules, defined at the top of this module, redacts them everywhere: in Sentry
events and breadcrumbs (:func:`scrub_event`, :func:`scrub_breadcrumb`), in log
lines (:class:`JsonFormatter`), and in whatever another component (agent,
worker) checks before it writes (:func:`redact_text`, :func:`redact`).

The rules recognise a value by the field that names it. A bare name in free
text ("could not find Doe^Jane") cannot be recognised, so code must never put
identity values into messages; the scrubbing is the second line of defence.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

import sentry_sdk
from sentry_sdk.transport import Transport

__all__ = [
    "FILTERED",
    "JsonFormatter",
    "configure_logging",
    "init_sentry",
    "redact",
    "redact_text",
    "scrub_breadcrumb",
    "scrub_event",
]

# ---------------------------------------------------------------------------
# The rules: which fields identify a patient, and how their values are found.
# ---------------------------------------------------------------------------

#: What a redacted value is replaced by (the placeholder Sentry itself uses).
FILTERED = "[Filtered]"

#: Identity fields, as the words of their names. A name matches ignoring case,
#: with or without a separator between words (space, ``_``, ``-``, ``.``), with
#: or without a possessive or plural "s" after each word ("PatientsName",
#: "Patient's Name", "tPerfPhysiciansName") and with or without a trailing
#: index ("tReferenceImage0"). Sources: the Yarra task file (PatientName, ACC),
#: the Yarra PHI file (NAME, DOB, MRN, ACC), the Siemens raw-data header (Config,
#: Dicom, Meas and ASCCONV sections) and the DICOM attributes the agent
#: re-identifies.
_IDENTITY_FIELDS: tuple[tuple[str, ...], ...] = (
    ("patient",),
    ("patient", "name"),
    ("pat", "name"),
    ("patient", "id"),
    ("other", "patient", "id"),
    ("patient", "birth", "day"),
    ("patient", "birth", "date"),
    ("patient", "birth", "time"),
    ("birth", "date"),
    ("birth", "day"),
    ("date", "of", "birth"),
    ("dob",),
    ("mrn",),
    ("acc",),
    ("accession",),
    ("accession", "number"),
    ("patient", "sex"),
    ("patient", "age"),
    ("patient", "weight"),
    ("used", "patient", "weight"),
    ("patient", "height"),
    ("patient", "size"),
    ("patient", "address"),
    ("patient", "comment"),
    ("patient", "registration", "data"),
    ("patient", "loid"),
    ("study", "loid"),
    ("series", "loid"),
    ("exam", "memory", "uid"),
    ("frame", "of", "reference"),
    ("frame", "of", "reference", "uid"),
    ("study", "description"),
    ("reference", "image"),
    ("institution", "name"),
    ("institution", "address"),
    ("referring", "physician"),
    ("referring", "physician", "name"),
    ("performing", "physician"),
    ("performing", "physician", "name"),
    ("perf", "physician", "name"),
    ("device", "serial", "number"),
    ("serial", "number"),
    ("phi",),
)

#: Fields that identify a patient only next to an identity field: ``NAME`` in
#: the ``[PHI]`` section of a Yarra PHI file is the patient's, while ``name`` in
#: a mode, a site or a file description is not. In a mapping they count when
#: the mapping also holds an identity field; in text, when the text also holds
#: an identity assignment or a ``[PHI]`` section header.
_CONTEXTUAL_FIELDS: tuple[tuple[str, ...], ...] = (
    ("name",),
    ("full", "name"),
    ("first", "name"),
    ("last", "name"),
    ("given", "name"),
    ("family", "name"),
)

#: Siemens type prefixes (Hungarian notation) that the raw-data header puts in
#: front of multi-word fields: "tPatientName", "lPatientSex", "flPatientAge".
_TYPE_PREFIXES = ("t", "fl", "l", "ul", "ui", "s", "d")


def _field_pattern(words: tuple[str, ...], *, prefixed: bool) -> str:
    body = r"[ _.\-]?".join(re.escape(word) + r"(?:'?s)?" for word in words)
    if prefixed and len(words) > 1:
        body = "(?:" + "|".join(_TYPE_PREFIXES) + ")?" + body
    return body + r"\d*"


def _alternation(fields: tuple[tuple[str, ...], ...], *, prefixed: bool) -> str:
    patterns = sorted((_field_pattern(f, prefixed=prefixed) for f in fields), key=len, reverse=True)
    return "(?:" + "|".join(patterns) + ")"


_IDENTITY_KEY = _alternation(_IDENTITY_FIELDS, prefixed=True)
_CONTEXTUAL_KEY = _alternation(_CONTEXTUAL_FIELDS, prefixed=False)

#: A mapping key, once stripped of everything but letters and digits.
_IDENTITY_KEY_RE = re.compile(_IDENTITY_KEY, re.IGNORECASE)
_CONTEXTUAL_KEY_RE = re.compile(_CONTEXTUAL_KEY, re.IGNORECASE)
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")

#: A field name standing on its own in text (a log template such as
#: ``"PatientName=%s"``, whose parameters are then all filtered).
_MENTION_RE = re.compile(rf"(?<![A-Za-z0-9_]){_IDENTITY_KEY}(?![A-Za-z0-9_])", re.IGNORECASE)

#: A ``[PHI]`` section header: the rest of that text is a Yarra PHI file.
_PHI_SECTION_RE = re.compile(r"^[ \t]*\[PHI\][ \t]*$", re.IGNORECASE | re.MULTILINE)

#: A quoted value, in the quoting styles the sources use: ASCCONV's doubled
#: quotes (``""Doe""``), JSON or Python double quotes, Python single quotes, and
#: JSON embedded in a JSON string (``\"Doe\"``).
_QUOTED_VALUE = r"""
      (?P<dq2>""[^\r\n]*?"")
    | (?P<dq>"(?:[^"\\\r\n]|\\.)*")
    | (?P<sq>'(?:[^'\\\r\n]|\\.)*')
    | (?P<esc>(?P<bs>\\+)"[^\r\n]*?(?P=bs)")
"""


def _assignment_rules(key: str) -> tuple[re.Pattern[str], ...]:
    """The three assignment syntaxes in which a field named by ``key`` carries a value.

    1. XProtocol (raw-data header, Config/Dicom/Meas):
       ``<ParamString."PatientName">  { "Doe^John"  }``; every quoted string
       between the braces is filtered, or the whole body when nothing is quoted
       (``<ParamLong."lPatientSex">  { 2  }``).
    2. A quoted key, as in JSON or a Python ``repr``: ``"PatientName": "Doe"``,
       ``'PatientID': '123'``, ``\\"PatientID\\": \\"123\\"``. An unquoted value
       is filtered up to the next ``,``, ``}``, ``]`` or line end.
    3. A bare key, as in INI (task and PHI files), ASCCONV, ``key=value`` log
       text, pydicom dumps (``Patient's Name   PN: 'Doe^John'``):
       ``PatientName=Doe^John``, ``tPatientName = "Doe"``. An unquoted value is
       filtered to the end of the line, since names hold spaces and commas.
    """
    xprotocol = re.compile(
        rf"""(?P<head><\w+\.[ \t]*"{key}"[ \t]*>\s*\{{)(?P<body>[^{{}}]*)(?P<tail>\}})""",
        re.IGNORECASE,
    )
    quoted_key = re.compile(
        rf"""
        (?P<key>(?P<q>\\*["']){key}(?P=q))
        (?P<sep>[ \t]*[:=][ \t]*)
        (?:{_QUOTED_VALUE} | (?P<bare>[^,}}\]\r\n]+))
        """,
        re.IGNORECASE | re.VERBOSE,
    )
    bare_key = re.compile(
        rf"""
        (?<![A-Za-z0-9_])(?P<key>{key})(?![A-Za-z0-9_])
        (?P<sep>(?:[ \t]+(?-i:[A-Z]{{2}}))?[ \t]*[:=][ \t]*)
        (?:{_QUOTED_VALUE} | (?P<bare>[^\r\n]+))
        """,
        re.IGNORECASE | re.VERBOSE,
    )
    return xprotocol, quoted_key, bare_key


_IDENTITY_RULES = _assignment_rules(_IDENTITY_KEY)
_CONTEXTUAL_RULES = _assignment_rules(_CONTEXTUAL_KEY)

#: A quoted string inside an XProtocol body; XProtocol escapes ``"`` as ``""``.
_XPROTOCOL_STRING = re.compile(r'"(?:[^"]|"")*"')

#: Request headers dropped whole from Sentry events (credentials, client addresses).
_SECRET_HEADER = re.compile(
    r"auth|cookie|token|secret|key|signature|session|forwarded|real-ip|x-amz", re.IGNORECASE
)

#: Parts of a Sentry event's ``request`` that are dropped whole.
_DROPPED_REQUEST_PARTS = ("data", "cookies", "query_string", "env")

#: Query and fragment of an outgoing HTTP call, in breadcrumb and span data.
_DROPPED_HTTP_DATA = ("http.query", "http.fragment")


# ---------------------------------------------------------------------------
# Redaction
# ---------------------------------------------------------------------------


def _replace_quoted(match: re.Match[str]) -> str | None:
    if match["dq2"] is not None:
        return f'""{FILTERED}""'
    if match["dq"] is not None:
        return f'"{FILTERED}"'
    if match["sq"] is not None:
        return f"'{FILTERED}'"
    if match["esc"] is not None:
        return f'{match["bs"]}"{FILTERED}{match["bs"]}"'
    return None


def _replace_assignment(match: re.Match[str]) -> str:
    value = _replace_quoted(match)
    return match["key"] + match["sep"] + (FILTERED if value is None else value)


def _replace_xprotocol(match: re.Match[str]) -> str:
    body = match["body"]
    if '"' in body:
        body = _XPROTOCOL_STRING.sub(f'"{FILTERED}"', body)
    elif body.strip():
        stripped = body.strip()
        start = body.index(stripped)
        body = body[:start] + FILTERED + body[start + len(stripped) :]
    return match["head"] + body + match["tail"]


def _apply(rules: tuple[re.Pattern[str], ...], text: str) -> tuple[str, int]:
    xprotocol, quoted_key, bare_key = rules
    text, n_xprotocol = xprotocol.subn(_replace_xprotocol, text)
    text, n_quoted = quoted_key.subn(_replace_assignment, text)
    text, n_bare = bare_key.subn(_replace_assignment, text)
    return text, n_xprotocol + n_quoted + n_bare


def redact_text(text: str) -> str:
    """Replace the value of every identity-field assignment in ``text`` by ``[Filtered]``.

    Recognises INI, ASCCONV, XProtocol, JSON, Python ``repr`` and pydicom-dump
    syntax (see the rules at the top of this module); everything else in the
    text is kept. Contextual fields such as ``NAME`` are filtered too when the
    text also holds an identity assignment or a ``[PHI]`` section. Applying it
    twice gives the same result as applying it once.

    Examples
    --------
    >>> redact_text("[Task]\\nPatientName=Doe^John\\nReconMode=Grasp")
    '[Task]\\nPatientName=[Filtered]\\nReconMode=Grasp'
    """
    text, found = _apply(_IDENTITY_RULES, text)
    if found or _PHI_SECTION_RE.search(text):
        text, _ = _apply(_CONTEXTUAL_RULES, text)
    return text


def _is_identity_key(key: object) -> bool:
    return isinstance(key, str) and _IDENTITY_KEY_RE.fullmatch(_NOT_ALNUM.sub("", key)) is not None


def _is_contextual_key(key: object) -> bool:
    return (
        isinstance(key, str) and _CONTEXTUAL_KEY_RE.fullmatch(_NOT_ALNUM.sub("", key)) is not None
    )


def redact(value: Any) -> Any:
    """Return a copy of ``value`` with patient identity removed.

    Walks dicts (any mapping), lists and tuples. A mapping value whose key
    names an identity field (any type, ``None`` included) becomes
    ``"[Filtered]"``; so does the value of a contextual key such as ``name``
    when the same mapping also holds an identity field. Every string, keys
    included, goes through :func:`redact_text`. Other values are returned as
    they are; the input is never modified.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        in_phi_section = any(_is_identity_key(key) for key in value)
        result: dict[Any, Any] = {}
        for key, item in value.items():
            if _is_identity_key(key) or (in_phi_section and _is_contextual_key(key)):
                result[key] = FILTERED
            else:
                result[redact_text(key) if isinstance(key, str) else key] = redact(item)
        return result
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact(item) for item in value)
    return value


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
    if isinstance(template, str) and _MENTION_RE.search(template):
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
