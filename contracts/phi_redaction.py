"""Which values in a text or a record identify a patient, and how they are redacted.

Nothing a patient could be identified by may leave a component in a log line, a
metric or a Sentry event. Raw-data headers, Yarra task and PHI files and DICOM
dumps name the same identity fields in a handful of syntaxes, so one set of
rules, defined at the top of this module, redacts them everywhere: the backend's,
the portal's and the worker's Sentry events and JSON logs
(``functions/core/observability.py``) and the site agent's Sentry events
(``agent/observability.py``, which adds the values it knows: the identities of the
tasks it holds).

The rules recognise a value by the field that names it. A bare name in free
text ("could not find Doe^Jane") cannot be recognised, so code must never put
identity values into messages; the scrubbing is the second line of defence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["FILTERED", "is_identity_key", "mentions_identity", "redact", "redact_text"]

# -- the rules: which fields identify a patient, and how their values are found ---------

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


#: ``NAME`` spelt in capitals, as the Yarra PHI file writes it, is the patient's name
#: wherever it stands (a log line quoting one line of that file has no ``[PHI]`` header).
_PHI_FILE_NAME = r"(?-i:NAME)"

_IDENTITY_KEY = f"(?:{_alternation(_IDENTITY_FIELDS, prefixed=True)}|{_PHI_FILE_NAME})"
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

# -- redaction ------------------------------------------------------------------------


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


def is_identity_key(key: object) -> bool:
    """Whether ``key`` (a mapping key, separators ignored) names an identity field."""
    return isinstance(key, str) and _IDENTITY_KEY_RE.fullmatch(_NOT_ALNUM.sub("", key)) is not None


def _is_contextual_key(key: object) -> bool:
    return (
        isinstance(key, str) and _CONTEXTUAL_KEY_RE.fullmatch(_NOT_ALNUM.sub("", key)) is not None
    )


def redact(value: Any, *, text: Callable[[str], str] = redact_text) -> Any:
    """Return a copy of ``value`` with patient identity removed.

    Walks dicts (any mapping), lists and tuples. A mapping value whose key
    names an identity field (any type, ``None`` included) becomes
    ``"[Filtered]"``; so does the value of a contextual key such as ``name``
    when the same mapping also holds an identity field. Every string, keys
    included, goes through :func:`redact_text`. Other values are returned as
    they are; the input is never modified. ``text`` redacts the strings instead
    of :func:`redact_text` (one that also knows values registered elsewhere).
    """
    if isinstance(value, str):
        return text(value)
    if isinstance(value, Mapping):
        in_phi_section = any(is_identity_key(key) for key in value)
        result: dict[Any, Any] = {}
        for key, item in value.items():
            if is_identity_key(key) or (in_phi_section and _is_contextual_key(key)):
                result[key] = FILTERED
            else:
                result[text(key) if isinstance(key, str) else key] = redact(item, text=text)
        return result
    if isinstance(value, list):
        return [redact(item, text=text) for item in value]
    if isinstance(value, tuple):
        return tuple(redact(item, text=text) for item in value)
    return value


def mentions_identity(template: str) -> bool:
    """Whether ``template`` names an identity field on its own (``"PatientName=%s"``).

    A log template that does says its parameters are identity values, which the
    text rules cannot recognise once they stand apart from their field.
    """
    return _MENTION_RE.search(template) is not None
