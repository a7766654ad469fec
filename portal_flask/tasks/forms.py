"""The task monitor's filter, read from the query string."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from werkzeug.datastructures import MultiDict

from contracts.task_status import Status

STATUSES: tuple[str, ...] = tuple(status.value for status in Status)


@dataclass(frozen=True)
class FilterArgs:
    """What the person asked for; ``problems`` says which values were not understood."""

    site: str
    user: str
    status: str
    date_from: str
    date_to: str
    cursor: str
    problems: tuple[str, ...]

    @property
    def since(self) -> float | None:
        return _epoch(self.date_from)

    @property
    def until(self) -> float | None:
        day = _day(self.date_to)
        if day is None:
            return None
        return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + 86400

    def query(self, **changes: str) -> dict[str, str]:
        """The query string for these filters (empty values left out), with ``changes``."""
        values = {
            "site": self.site,
            "user": self.user,
            "status": self.status,
            "from": self.date_from,
            "to": self.date_to,
            "cursor": self.cursor,
        }
        values.update(changes)
        return {key: value for key, value in values.items() if value}


def _day(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _epoch(text: str) -> float | None:
    day = _day(text)
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def read_filter(args: MultiDict) -> FilterArgs:
    """The filters in ``args``; a value that does not parse is dropped and named in ``problems``."""
    problems = []
    status = args.get("status", "").strip().upper()
    if status and status not in STATUSES:
        problems.append(f"unknown status {status!r}: showing every status")
        status = ""
    dates = {}
    for key in ("from", "to"):
        text = args.get(key, "").strip()
        if text and _day(text) is None:
            problems.append(f"{key!r} must be a date like 2026-01-31: ignored")
            text = ""
        dates[key] = text
    if dates["from"] and dates["to"] and _day(dates["to"]) < _day(dates["from"]):
        problems.append("the period ends before it starts: showing no period")
        dates = {"from": "", "to": ""}
    return FilterArgs(
        site=args.get("site", "").strip()[:64],
        user=args.get("user", "").strip()[:128],
        status=status,
        date_from=dates["from"],
        date_to=dates["to"],
        cursor=args.get("cursor", "").strip(),
        problems=tuple(problems),
    )


def default_until(now: float) -> str:
    return (datetime.fromtimestamp(now, UTC).date() + timedelta(days=1)).isoformat()
