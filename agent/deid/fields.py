"""The identity fields of a Siemens raw-data header, the forms they take, and how they are masked.

A measurement header's text holds XProtocol parameters, single-line
(``<ParamString."tPatientName">  { "Doe^Jane"  }``) or spread over several
lines with the value on a later one, and ASCCONV assignments
(``tReferenceImage0 = "1.3.12…"``). Every parameter and assignment name is
classified by the catalogue (``catalogue.json``): an identity field has its
value masked (same length: letters become ``X``, digits ``0``, separators such
as ``^ . - ,`` stay, so a UID stays UID-shaped); the patient's age over 89
becomes 90; a name the catalogue lacks that looks like identity stops the
task, naming the field and never its value. After the fields, every value
that was masked is searched for again in the whole range (padding included,
where stale text survives) in the usual spellings of names and dates, and
masked wherever it is found.

All text is handled as latin-1, so a character's index is its byte offset.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from agent.deid.catalogue import Kind, catalogue
from agent.errors import DeidRefused

_PARAM = re.compile(r'<Param\w*\."([^"\n<>{}]*)">')
_ASSIGNMENT = re.compile(r"^[ \t]*([A-Za-z_][\w.\[\]]*)[ \t]*=[ \t]*([^\r\n]*)", re.MULTILINE)
_SUBSCRIPT = re.compile(r"\[\d*\]")
_NUMBER = re.compile(r"(?<![\w.])(\d+)(\.\d+)?(?![\w.])")
_PRECISION = re.compile(r"<Precision>\s*\d+")
_ATTRIBUTE = re.compile(r'<(?!Param)\w+>\s*(?:"[^"]*"|\{[^{}]*\}|[^\s<>{}"]+)?')
_PARAM_TAG = re.compile(r'<Param\w*\."[^"]*">')
MIN_SWEEP_LENGTH = 4
OLDEST_AGE = 89
AGE_CAP = 90


def classify(name: str) -> Kind:
    """How the parameter ``name`` is treated, by the catalogue (``agent.deid.catalogue``).

    Raises
    ------
    DeidRefused
        When ``name`` looks like identity but is not in the catalogue: the file is not
        uploaded. The message names the field, never its value.
    """
    entry = catalogue().entry(name)
    if entry is not None:
        return entry.kind
    if not catalogue().looks_like_identity(name):
        return Kind.TECHNICAL
    raise unknown_field(name)


def unknown_field(name: str) -> DeidRefused:
    """The refusal for an identity-like field the catalogue lacks: its name, never its value."""
    return DeidRefused(
        f"the raw header holds a field {name!r} that may carry patient or site identity and "
        "that de-identification does not know; nothing was uploaded. Run 'yarracloud-agent "
        "inspect FILE' to list every such field, and report the field names (not their "
        "values) and the scanner software version to YarraCloud support"
    )


def mask(value: str) -> str:
    """``value`` with letters as ``X`` and digits as ``0``; everything else, length included, kept.

    >>> mask("Doe^Jane 1.3.12")
    'XXX^XXXX 0.0.00'
    """
    return "".join("0" if c.isdigit() else "X" if c.isalpha() else c for c in value)


@dataclass(frozen=True)
class Replacement:
    """Text ``[start, end)`` of a header range to become ``text`` (same length)."""

    start: int
    end: int
    text: str
    field: str
    original: str


def _body_span(text: str, at: int) -> tuple[int, int] | None:
    """The span inside the braces of the parameter whose tag ends at ``at``.

    Quotes and nested tags are respected. A body cut off by the end of the
    text (stale padding) runs to that end, so that it is masked too.
    """
    i = at
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    if i >= len(text) or text[i] != "{":
        return None
    depth, j, quoted = 1, i + 1, False
    while j < len(text):
        c = text[j]
        if quoted:
            quoted = c != '"'
        elif c == '"':
            quoted = True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1, j
        j += 1
    return i + 1, len(text)


def _mask_body(body: str) -> str:
    """Mask every value in an XProtocol body or ASCCONV value; tags (``<Precision>``) stay."""
    out: list[str] = []
    i = 0
    quoted = False
    while i < len(body):
        c = body[i]
        if quoted:
            quoted = c != '"'
            out.append(mask(c))
        elif c == '"':
            quoted = True
            out.append(c)
        elif c == "<":
            end = body.find(">", i)
            end = len(body) - 1 if end < 0 else end
            out.append(body[i : end + 1])
            i = end
        else:
            out.append(mask(c))
        i += 1
    return "".join(out)


def _strip_values(body: str) -> str:
    """The value of a body: quoted strings joined, else the bare text.

    Attributes (``<Visible> "true"``, ``<Comment> "…"``, ``<Precision> 6``,
    ``<LimitRange> { … }``) and nested declarations are not the value.
    """
    body = _PARAM_TAG.sub(" ", _ATTRIBUTE.sub(" ", body))
    strings = re.findall(r'"([^"]*)"', body)
    if strings:
        return " ".join(s for s in strings if s)
    return " ".join(body.replace("{", " ").replace("}", " ").split())


def _cap_age(body: str, start: int, field: str) -> Iterator[Replacement]:
    """An age over 89 in ``body`` (at ``start``) as 90, in the same width (``093.000000``)."""
    precision = _PRECISION.search(body)
    search_from = precision.end() if precision else 0
    for number in _NUMBER.finditer(body, search_from):
        whole, fraction = number.group(1), number.group(2) or ""
        if float(whole + fraction) <= OLDEST_AGE:
            continue
        capped = f"{AGE_CAP:.{max(len(fraction) - 1, 0)}f}".zfill(len(number.group(0)))
        yield Replacement(
            start + number.start(), start + number.end(), capped, field, number.group(0)
        )


def _kind(name: str, unknown: set[str] | None) -> Kind:
    """``classify(name)``; with ``unknown`` given, an unknown field is added to it and masked."""
    try:
        return classify(name)
    except DeidRefused:
        if unknown is None:
            raise
        unknown.add(name)
        return Kind.IDENTITY


def scan_fields(text: str, unknown: set[str] | None = None) -> list[Replacement]:
    """Replacements for every identity field of a header range, in XProtocol and ASCCONV forms.

    Parameters
    ----------
    unknown
        None to refuse at the first identity-like field the catalogue lacks; a set to
        collect their names instead (and mask them), as ``inspect`` does.

    Raises
    ------
    DeidRefused
        When a field looks like identity but is not known (see ``classify``).
    """
    found: list[Replacement] = []
    masked_until = -1
    for match in _PARAM.finditer(text):
        name = match.group(1)
        if not name or match.start() < masked_until:
            continue
        kind = _kind(name, unknown)
        if kind is Kind.TECHNICAL:
            continue
        span = _body_span(text, match.end())
        if span is None:
            continue
        start, end = span
        body = text[start:end]
        if kind is Kind.AGE:
            found.extend(_cap_age(body, start, name))
            continue
        found.append(Replacement(start, end, _mask_body(body), name, _strip_values(body)))
        masked_until = end
    for match in _ASSIGNMENT.finditer(text):
        key, value = match.group(1), match.group(2)
        kinds = [_kind(part, unknown) for part in _SUBSCRIPT.sub("", key).split(".") if part]
        start, end = match.start(2), match.end(2)
        if Kind.IDENTITY in kinds:
            found.append(Replacement(start, end, _mask_body(value), key, _strip_values(value)))
        elif Kind.AGE in kinds:
            found.extend(_cap_age(value, start, key))
    return found


def param_value(text: str, name: str) -> str | None:
    """The first value of the XProtocol parameter ``name`` (quotes off), or None."""
    for match in _PARAM.finditer(text):
        if match.group(1) == name:
            span = _body_span(text, match.end())
            if span is not None:
                return _strip_values(text[span[0] : span[1]])
    return None


def ascconv_value(text: str, key: str) -> str | None:
    """The first value of the ASCCONV assignment ``key`` (quotes off), or None."""
    for match in _ASSIGNMENT.finditer(text):
        if match.group(1) == key:
            return _strip_values(match.group(2))
    return None


def _as_date(value: str) -> date | None:
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def date_spellings(value: str) -> set[str]:
    """A ``YYYYMMDD`` date as it may be written: ISO, German, British and itself."""
    day = _as_date(value)
    if day is None:
        return set()
    return {
        value,
        day.strftime("%Y-%m-%d"),
        day.strftime("%d.%m.%Y"),
        day.strftime("%d/%m/%Y"),
        day.strftime("%Y.%m.%d"),
        day.strftime("%Y/%m/%d"),
    }


def spellings(value: str) -> set[str]:
    """The forms an identity value may take elsewhere in a header.

    DICOM person names (``LAST^FIRST``) also as ``FIRST LAST``, ``LAST FIRST``
    and ``LAST, FIRST``; dates in their usual spellings; values joined with
    ``|`` also part by part. Case is handled by the search, not here.
    """
    forms = {value}
    for part in value.split("|"):
        part = part.strip()
        forms.add(part)
        names = [p for p in part.split("^") if p]
        if "^" in part and names:
            forms |= {
                " ".join(names[1:] + names[:1]),
                " ".join(names),
                ", ".join([names[0], " ".join(names[1:])]).rstrip(", "),
            }
        forms |= date_spellings(part)
    return {f for f in forms if _worth_sweeping(f)}


def _worth_sweeping(form: str) -> bool:
    alnum = [c for c in form if c.isalnum()]
    return len(form) >= MIN_SWEEP_LENGTH and len(set(alnum)) >= 2


class Sweep:
    """Every spelling of the replaced values, found in any case, standing alone.

    A spelling matches where it is not part of a longer number (when it begins or
    ends with a digit) or word (a letter). Found with ``str.find`` per spelling
    rather than one alternation, which a megabyte of real header made take
    seconds; at each place the longest spelling that fits wins, as it would there.
    """

    def __init__(self, forms: Iterable[str]) -> None:
        self._forms = sorted({form.lower() for form in forms}, key=len, reverse=True)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """``(start, end)`` of each match in ``text``, left to right, none overlapping."""
        lowered = text.lower()
        found = []
        for form in self._forms:
            at = lowered.find(form)
            while at >= 0:
                if _stands_alone(text, at, at + len(form), form):
                    found.append((at, -len(form)))
                at = lowered.find(form, at + 1)
        spans: list[tuple[int, int]] = []
        for start, negative_length in sorted(found):
            if not spans or start >= spans[-1][1]:
                spans.append((start, start - negative_length))
        return spans

    def search(self, text: str) -> bool:
        """Whether any spelling occurs in ``text``."""
        return bool(self.spans(text))


def _stands_alone(text: str, start: int, end: int, form: str) -> bool:
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    return not (_joins(form[0], before) or _joins(form[-1], after))


def _joins(edge: str, neighbour: str) -> bool:
    """Whether ``neighbour`` continues the number or word that ``edge`` begins or ends."""
    if not neighbour:
        return False
    if edge.isdigit():
        return neighbour.isdigit()
    return edge.isalpha() and neighbour.isascii() and neighbour.isalpha()


def sweep_pattern(values: Iterable[str]) -> Sweep | None:
    """A ``Sweep`` for every spelling of ``values``; None if there is none."""
    forms = set().union(*(spellings(v) for v in values if v))
    return Sweep(forms) if forms else None


def sweep(text: str, pattern: Sweep | None) -> list[Replacement]:
    """Replacements masking every match of ``pattern`` (from ``sweep_pattern``) in ``text``."""
    if pattern is None:
        return []
    return [
        Replacement(start, end, mask(text[start:end]), "", text[start:end])
        for start, end in pattern.spans(text)
    ]
