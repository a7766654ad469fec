"""Failed tasks across sites, for the operator: one query per site on its failed tasks."""

from __future__ import annotations

from collections.abc import Iterable

from contracts.task_status import Status
from functions.core.models import Task, site_status_key


def failed_tasks(site_ids: Iterable[str], *, since: float, limit: int = 100) -> list[Task]:
    """The latest ``limit`` tasks that failed among those created since ``since``, newest first.

    Each site's failed tasks are read newest first from their own partition of
    ``Task.site_status_index`` (ranged on ``created_at``), at most ``limit`` per site:
    no task of another status is read.
    """
    found: list[Task] = []
    for site_id in site_ids:
        found.extend(
            Task.site_status_index.query(
                site_status_key(site_id, Status.FAILED.value),
                Task.created_at >= since,
                scan_index_forward=False,
                limit=limit,
                page_size=limit,
            )
        )
    found.sort(key=lambda task: float(task.touched_at or task.created_at), reverse=True)
    return found[:limit]
