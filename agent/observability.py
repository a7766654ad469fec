"""Error reports to Sentry from the site agent, with the patient's identity scrubbed out.

The agent holds the identity of every patient whose task it moves (the ``.phi`` vault
and what de-identification took out of the raw header). Its code never puts those
values into a message, but a library's exception text can quote the data it choked
on, so every Sentry event and breadcrumb passes through :func:`scrub_event` /
:func:`scrub_breadcrumb` before it leaves the host:

- the value of every identity field is replaced by ``[Filtered]``, by the rules every
  component shares (:mod:`contracts.phi_redaction`: ``NAME=`` as the PHI file writes it,
  ``DOB=``, ``MRN=``, ``ACC=``, patient, physician, birth-date, accession,
  institution and serial-number keys in INI, ASCCONV, XProtocol, JSON and DICOM dumps);
- what only the site knows is added: every value registered with
  :func:`register_identity` (the pipeline registers a task's values when it loads its
  ``.phi``) is replaced wherever it appears, in any case and in the usual spellings of
  names and dates;
- DICOM-style person names (``LAST^FIRST``) are replaced even when not registered;
- a path into ``cloud/phi/`` or ``cloud/phi_archive/`` keeps only the task's UUID.

Frames' local variables, request bodies, the user and the host's name are never sent.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.argv import ArgvIntegration

from contracts.phi_redaction import FILTERED, is_identity_key, mentions_identity
from contracts.phi_redaction import redact_text as redact_fields

__all__ = [
    "forget_identities",
    "init_sentry",
    "redact_text",
    "register_identity",
    "scrub_breadcrumb",
    "scrub_event",
]

MAX_VALUES = 20_000
"""How many registered spellings are kept; the oldest are dropped beyond that."""

_MIN_LENGTH = 2
_WORD_ONLY_BELOW = 4
"""Registered values shorter than this are redacted only where they stand as a word."""

_DATE_FORMATS_IN = ("%Y%m%d", "%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d", "%d/%m/%Y")
_DATE_FORMATS_OUT = (
    "%Y%m%d",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%d.%m.%Y",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d-%m-%Y",
    "%d.%m.%y",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d%m%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d-%b-%Y",
)
_TIME = re.compile(r"^([01]\d|2[0-3])([0-5]\d)([0-5]\d)(?:\.\d+)?$")
_LETTERS = r"[^\W\d_](?:[^\W\d_]|['. \-])*"
_PERSON = re.compile(rf"^{_LETTERS}(?:\^(?:{_LETTERS})?)+$|^{_LETTERS}, ?{_LETTERS}$")
_NAME_PARTS = re.compile(r"[\^,\s]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

_DICOM_PERSON = re.compile(r"(?<![\w^\[\]])[^\W\d_][\w'\-]*(?:\^[\w'\-]*)+")
_PHI_PATH = re.compile(
    r"""(?:[A-Za-z]:)?(?:[^\s'"<>|]*[\\/])?cloud[\\/](?P<folder>phi(?:_archive)?)[\\/]"""
    r"""(?P<name>[^\s'"<>|\\/]+)"""
)

_KEPT_KEYS = frozenset(
    {"event_id", "timestamp", "start_timestamp", "trace_id", "span_id", "parent_span_id"}
)
"""Keys whose values the SDK makes itself (ids, times): a registered number in them is chance."""

_BREADCRUMB_DATA = frozenset({"method", "status_code", "reason", "url", "task_id"})
_REQUEST_PARTS = frozenset({"method", "url"})


class _Registry:
    """The registered spellings, with the patterns that find them built once per change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, None] = {}
        self._patterns: tuple[re.Pattern[str] | None, re.Pattern[str] | None] | None = None

    def add(self, spellings: Iterable[str]) -> None:
        with self._lock:
            added = False
            for spelling in spellings:
                added = added or spelling not in self._values
                self._values.pop(spelling, None)
                self._values[spelling] = None
            while len(self._values) > MAX_VALUES:
                del self._values[next(iter(self._values))]
            if added:
                self._patterns = None

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._patterns = None

    def patterns(self) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
        with self._lock:
            if self._patterns is None:
                long = [v for v in self._values if len(v) >= _WORD_ONLY_BELOW]
                short = [v for v in self._values if len(v) < _WORD_ONLY_BELOW]
                self._patterns = (
                    re.compile(_trie(long), re.IGNORECASE) if long else None,
                    re.compile(rf"(?<!\w)(?:{_trie(short)})(?!\w)", re.IGNORECASE)
                    if short
                    else None,
                )
            return self._patterns


_registry = _Registry()


def register_identity(values: Iterable[str]) -> None:
    """Have every later Sentry event redact ``values``, wherever and however they appear.

    Each value is registered as written and matched in any case. A person name
    (``LAST^FIRST``, ``LAST, FIRST``) is registered in its usual spellings too —
    ``LAST^FIRST``, ``FIRST LAST``, ``LAST FIRST``, ``LAST, FIRST`` — and each of its
    parts; a date (``YYYYMMDD``, ``YYYY-MM-DD``, ``DD.MM.YYYY`` …) in the usual date
    formats; a time ``HHMMSS`` also as ``HH:MM:SS``. Values shorter than two characters
    are ignored; those shorter than four are redacted only where they stand as a word.

    Parameters
    ----------
    values
        The patient's and the exam's values: the ``.phi`` file's NAME, DOB, MRN, ACC and
        what de-identification replaced in the raw header.
    """
    spellings: list[str] = []
    for value in values:
        if isinstance(value, str):
            spellings.extend(_spellings(value))
    _registry.add(s.lower() for s in spellings if len(s) >= _MIN_LENGTH)


def forget_identities() -> None:
    """Drop every registered value (for tests and a fresh start)."""
    _registry.clear()


def _spellings(value: str) -> list[str]:
    value = value.strip()
    if len(value) < _MIN_LENGTH:
        return []
    found = [value]
    if _PERSON.match(value):
        parts = [part for part in _NAME_PARTS.split(value) if part]
        components = [c.strip() for c in re.split(r"[\^,]", value) if c.strip()]
        if len(components) >= 2:
            last, first = components[0], components[1]
            found += [
                "^".join(components),
                f"{last}^{first}",
                f"{first} {last}",
                f"{last} {first}",
                f"{last}, {first}",
                f"{last},{first}",
                f"{first}^{last}",
            ]
        found += parts
    for pattern in _DATE_FORMATS_IN:
        try:
            date = datetime.strptime(value, pattern)
        except ValueError:
            continue
        found += [date.strftime(out) for out in _DATE_FORMATS_OUT]
        break
    time = _TIME.match(value)
    if time:
        found.append(":".join(time.groups()))
    return found


def _trie(words: Iterable[str]) -> str:
    """One regular expression matching any of ``words``, the longest where several fit.

    A trie keeps matching fast however many tasks' values are registered, where a plain
    alternation would try each word at every position.
    """
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_pattern(root)


def _trie_pattern(node: dict[str, Any]) -> str:
    ends = "" in node
    branches = [re.escape(char) + _trie_pattern(child) for char, child in node.items() if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if ends:
        return f"(?:{body})?"
    return body


# -- redaction ---------------------------------------------------------------------------


def _phi_path(match: re.Match[str]) -> str:
    task = _UUID.search(match["name"])
    name = task.group(0) if task else FILTERED
    if task and match["name"].lower().endswith(".phi"):
        name += ".phi"
    return f"cloud/{match['folder']}/{name}"


def redact_text(text: str) -> str:
    """``text`` with every registered value and every recognisable identity value redacted.

    Applying it twice gives the same result as applying it once.

    Examples
    --------
    >>> redact_text("[PHI]\\nNAME=Doe^Jane\\nMODE=Grasp")
    '[PHI]\\nNAME=[Filtered]\\nMODE=Grasp'
    """
    text = redact_fields(_PHI_PATH.sub(_phi_path, text))
    patterns = [p for p in (*_registry.patterns(), _DICOM_PERSON) if p is not None]
    # The placeholders already written are kept out of reach of later patterns.
    pieces = text.split(FILTERED)
    for pattern in patterns:
        pieces = [pattern.sub(FILTERED, piece) for piece in pieces]
    return FILTERED.join(pieces)


def _scrub(value: Any, key: object = None) -> Any:
    if isinstance(value, str):
        return value if key in _KEPT_KEYS else redact_text(value)
    if isinstance(value, dict):
        return {
            (redact_text(k) if isinstance(k, str) else k): (
                FILTERED if is_identity_key(k) else _scrub(item, k)
            )
            for k, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _strip_url(url: Any) -> Any:
    return url.split("#", 1)[0].split("?", 1)[0] if isinstance(url, str) else url


def _trim_breadcrumb(crumb: dict[str, Any]) -> dict[str, Any]:
    crumb = dict(crumb)
    data = crumb.get("data")
    if isinstance(data, dict):
        kept = {k: v for k, v in data.items() if k in _BREADCRUMB_DATA}
        if "url" in kept:
            kept["url"] = _strip_url(kept["url"])
        crumb["data"] = kept
    elif data is not None:
        crumb.pop("data")
    return crumb


def _frames(event: dict[str, Any]) -> Iterable[dict[str, Any]]:
    stacktraces = [event.get("stacktrace")]
    for section in ("exception", "threads"):
        container = event.get(section)
        values = container.get("values") if isinstance(container, dict) else None
        for item in values if isinstance(values, list) else ():
            if isinstance(item, dict):
                stacktraces.append(item.get("stacktrace"))
    for stacktrace in stacktraces:
        frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
        for frame in frames if isinstance(frames, list) else ():
            if isinstance(frame, dict):
                yield frame


def scrub_event(event: dict[str, Any], hint: dict[str, Any] | None) -> dict[str, Any]:
    """The event without any patient value (Sentry's ``before_send``).

    Drops the user, frames' local variables, the request's body, headers and query
    and breadcrumbs' data beyond method, status, URL (without query) and task; replaces
    every parameter of a log message whose template assigns an identity field
    (``"NAME=%s"``); redacts every string left (:func:`redact_text`); and tags the
    event with the task's UUID (``task_id``) when a log record carried it.

    Parameters
    ----------
    event
        The event as the SDK prepared it; not modified.
    hint
        Unused; part of the callback's signature.
    """
    event = dict(event)
    event.pop("user", None)
    event.pop("server_name", None)
    request = event.get("request")
    if isinstance(request, dict):
        event["request"] = {k: _strip_url(v) for k, v in request.items() if k in _REQUEST_PARTS}
    breadcrumbs = event.get("breadcrumbs")
    if isinstance(breadcrumbs, dict) and isinstance(breadcrumbs.get("values"), list):
        event["breadcrumbs"] = {
            **breadcrumbs,
            "values": [_trim_breadcrumb(c) for c in breadcrumbs["values"] if isinstance(c, dict)],
        }
    logentry = event.get("logentry")
    if isinstance(logentry, dict) and logentry.get("params"):
        template = logentry.get("message")
        if isinstance(template, str) and (
            mentions_identity(template) or redact_text(template) != template
        ):
            event["logentry"] = {**logentry, "params": [FILTERED] * len(logentry["params"])}
    scrubbed: dict[str, Any] = _scrub(event)
    for frame in _frames(scrubbed):
        frame.pop("vars", None)
    extra = scrubbed.get("extra")
    task = extra.get("task_id") if isinstance(extra, dict) else None
    if isinstance(task, str) and _UUID.fullmatch(task):
        scrubbed["tags"] = {**(scrubbed.get("tags") or {}), "task_id": task}
    return scrubbed


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None) -> dict[str, Any]:
    """The breadcrumb without any patient value (Sentry's ``before_breadcrumb``)."""
    scrubbed: dict[str, Any] = _scrub(_trim_breadcrumb(crumb))
    return scrubbed


def init_sentry(dsn: str, *, environment: str = "site") -> None:
    """Report the agent's errors to Sentry at ``dsn``, scrubbed; nothing when ``dsn`` is empty.

    Events carry the tag ``component=agent``, no host name and no command line (which
    for ``submit`` names the raw file and the accession number). Calling it again
    replaces the client, closing the previous one first.

    Parameters
    ----------
    dsn
        The project's DSN, from ``[agent] sentry_dsn`` in the config.
    environment
        The Sentry environment the events are filed under.
    """
    if not dsn or not dsn.strip():
        return
    previous = sentry_sdk.get_client()
    if previous.is_active():
        previous.close()
    with warnings.catch_warnings():
        # The SDK deprecates send_default_pii; set to False it keeps the SDK's own
        # key-based scrubber in place beside ours.
        warnings.filterwarnings(
            "ignore", message=".*send_default_pii.*", category=DeprecationWarning
        )
        sentry_sdk.init(
            dsn=dsn.strip(),
            environment=environment,
            server_name="yarracloud-agent",
            send_default_pii=False,
            include_local_variables=False,
            max_request_body_size="never",
            before_send=scrub_event,
            before_send_transaction=scrub_event,
            before_breadcrumb=scrub_breadcrumb,
            disabled_integrations=[ArgvIntegration()],
        )
    sentry_sdk.get_global_scope().set_tag("component", "agent")
