"""Pages of tasks, newest first, through the task table's indexes (never a scan).

One index answers each question: a user's tasks come from ``user_index`` (a
status filter applies to that small partition), a site's from ``site_index``, a
site's tasks of one status from their own partition of ``site_status_index``, so
a rare status reads only its own tasks; every site's (the operator's view) merges
one query per site. A page ends with an opaque cursor naming the last task shown
in each partition, from which the next page starts.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from functions.core.models import Task, site_status_key

_MAX_CURSOR = 64 * 1024

_INDEXES = {
    "user": (Task.user_index, "user_name"),
    "site": (Task.site_index, "site_id"),
    "site_status": (Task.site_status_index, "site_status"),
}
"""Each kind of partition: the index holding it and the name of its hash key."""


class BadCursor(ValueError):
    """The page cursor was not made by this portal for this listing."""


@dataclass(frozen=True)
class TaskFilter:
    """Which tasks: one site (``None``: every site in ``sites``), one user, a status, a period.

    ``since``/``until`` bound ``created_at`` (epoch seconds; ``until`` exclusive).
    """

    site_id: str | None = None
    user_name: str | None = None
    status: str | None = None
    since: float | None = None
    until: float | None = None


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]
    next_cursor: str | None


def _position(task: Task) -> list:
    return [_number(task.created_at), task.task_id]


def _number(value: float | int | Decimal) -> str:
    return str(value)


def encode_cursor(positions: dict[str, list | None]) -> str:
    """``positions``: per index partition, the last task shown ([created_at, task_id]) or None."""
    raw = json.dumps(positions, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, list | None]:
    if len(cursor) > _MAX_CURSOR:
        raise BadCursor("the page cursor is too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        positions = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("the page cursor is not valid") from exc
    if not isinstance(positions, dict):
        raise BadCursor("the page cursor is not valid")
    for key, value in positions.items():
        valid = value is None or (
            isinstance(value, list)
            and len(value) == 2
            and isinstance(value[0], str)
            and isinstance(value[1], str)
        )
        if not isinstance(key, str) or not valid:
            raise BadCursor("the page cursor is not valid")
        if value is not None:
            try:
                finite = math.isfinite(float(value[0]))
            except ValueError as exc:
                raise BadCursor("the page cursor is not valid") from exc
            if not finite:  # "nan", "inf": not a time DynamoDB can compare
                raise BadCursor("the page cursor is not valid")
    return positions


def _query(
    kind: str, partition: str, task_filter: TaskFilter, after: list | None, limit: int
) -> list[Task]:
    """Up to ``limit`` tasks of one index partition, newest first, after position ``after``."""
    index, hash_name = _INDEXES[kind]
    range_condition = None
    if task_filter.since is not None and task_filter.until is not None:
        range_condition = Task.created_at.between(task_filter.since, task_filter.until - 0.000001)
    elif task_filter.since is not None:
        range_condition = Task.created_at >= task_filter.since
    elif task_filter.until is not None:
        range_condition = Task.created_at < task_filter.until
    conditions = []
    if task_filter.status and kind != "site_status":
        conditions.append(Task.status == task_filter.status)
    if kind == "user" and task_filter.site_id:
        conditions.append(Task.site_id == task_filter.site_id)
    filter_condition = None
    for condition in conditions:
        filter_condition = condition if filter_condition is None else filter_condition & condition
    start = None
    if after is not None:
        start = {
            "task_id": {"S": after[1]},
            hash_name: {"S": partition},
            "created_at": {"N": after[0]},
        }
    # A filter applies after DynamoDB reads a page: read large pages when one is set (1,000
    # tasks stay under DynamoDB's 1 MB page), so a user's rare status takes few round trips.
    page_size = max(limit, 1000) if filter_condition is not None else limit
    return list(
        index.query(
            partition,
            range_key_condition=range_condition,
            filter_condition=filter_condition,
            scan_index_forward=False,
            limit=limit,
            page_size=page_size,
            last_evaluated_key=start,
        )
    )


def task_page(
    task_filter: TaskFilter,
    cursor: str | None,
    page_size: int,
    sites: Iterable[str] = (),
) -> TaskPage:
    """One page of tasks matching ``task_filter``, newest first.

    Parameters
    ----------
    task_filter
        A user's tasks when ``user_name`` is set (restricted to ``site_id`` when that is
        set too), else one site's, else the tasks of every site in ``sites``.
    cursor
        ``next_cursor`` of the previous page, or ``None`` for the first page.
    page_size
        Tasks per page.
    sites
        Every site id, for the all-sites listing.

    Raises
    ------
    BadCursor
        When ``cursor`` was not made for this listing.
    """
    partitions = _partitions(task_filter, sites)
    if cursor:
        positions = decode_cursor(cursor)
        if not set(positions) <= set(partitions):
            raise BadCursor("the page cursor belongs to another listing: start from the first page")
    else:
        positions = {}
    fetched: dict[str, list[Task]] = {}
    for partition, kind in partitions.items():
        if partition in positions and positions[partition] is None:
            continue  # this partition has no more tasks
        fetched[partition] = _query(
            kind, partition, task_filter, positions.get(partition), page_size + 1
        )
    streams = [
        [(-float(task.created_at), _reverse(task.task_id), partition, task) for task in tasks]
        for partition, tasks in fetched.items()
    ]
    merged = heapq.merge(*streams, key=lambda entry: (entry[0], entry[1]))
    shown: list[Task] = []
    consumed: dict[str, int] = {}
    for _, _, partition, task in merged:
        if len(shown) == page_size:
            break
        shown.append(task)
        consumed[partition] = consumed.get(partition, 0) + 1
    next_positions: dict[str, list | None] = {}
    more = False
    for partition in partitions:
        if partition not in fetched:
            next_positions[partition] = None
            continue
        tasks, used = fetched[partition], consumed.get(partition, 0)
        if used < len(tasks):
            more = True
            next_positions[partition] = (
                _position(tasks[used - 1]) if used else positions.get(partition)
            )
        else:
            next_positions[partition] = None
    if len(partitions) == 1:
        next_positions = {k: v for k, v in next_positions.items() if v is not None}
    return TaskPage(shown, encode_cursor(next_positions) if more else None)


def _partitions(task_filter: TaskFilter, sites: Iterable[str]) -> dict[str, str]:
    """The index partitions holding the tasks of ``task_filter``, each with its kind."""
    if task_filter.user_name:
        return {task_filter.user_name: "user"}
    site_ids = [task_filter.site_id] if task_filter.site_id else list(sites)
    if task_filter.status:
        return {site_status_key(site, task_filter.status): "site_status" for site in site_ids}
    return dict.fromkeys(site_ids, "site")


def _reverse(text: str) -> tuple[int, ...]:
    # Ties on created_at: a stable order, task_id descending.
    return tuple(-ord(ch) for ch in text)
