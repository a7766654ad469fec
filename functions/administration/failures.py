"""Failed tasks across sites, for the operator: one query per site on its task index."""

from __future__ import annotations

from collections.abc import Iterable

from functions.core.models import Task
from functions.core.status import Status


def failed_tasks(site_ids: Iterable[str], *, since: float, limit: int = 100) -> list[Task]:
    """The latest ``limit`` tasks that failed among those created since ``since``, newest first.

    Each site's tasks are read newest first through ``Task.site_index`` (ranged on
    ``created_at``, filtered on the status), stopping at ``limit`` per site.
    """
    found: list[Task] = []
    for site_id in site_ids:
        query = Task.site_index.query(
            site_id,
            Task.created_at >= since,
            filter_condition=Task.status == Status.FAILED.value,
            scan_index_forward=False,
        )
        for count, task in enumerate(query, start=1):
            found.append(task)
            if count >= limit:
                break
    found.sort(key=lambda task: float(task.touched_at or task.created_at), reverse=True)
    return found[:limit]
