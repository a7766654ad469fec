"""Conditional writes of a task's state: the only way a task's status changes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition

from contracts.task_status import Status
from functions.core.errors import TaskUnavailable
from functions.core.models import Task, site_status_key
from functions.core.status import is_open, predecessors

CONDITION_FAILED = "ConditionalCheckFailedException"


def condition_failed(exc: PutError | UpdateError) -> bool:
    """Whether a write failed only because its condition did not hold."""
    return exc.cause_response_code == CONDITION_FAILED


def open_task(task_id: str, *, user_name: str, site_id: str, now: float) -> Task:
    """Create the task in ``UPLOADING`` unless it exists; the order of events does not matter.

    Raises
    ------
    TaskUnavailable
        When another user holds ``task_id`` (the message does not say so).
    """
    task = Task(
        task_id,
        site_id=site_id,
        user_name=user_name,
        status=Status.UPLOADING.value,
        open_status=Status.UPLOADING.value,
        created_at=now,
        touched_at=now,
        status_times={Status.UPLOADING.value: now},
    )
    try:
        task.save(condition=Task.task_id.does_not_exist())
        return task
    except PutError as exc:
        if not condition_failed(exc):
            raise
    existing = Task.get(task_id, consistent_read=True)
    if existing.user_name != user_name:
        raise TaskUnavailable(task_id)
    if existing.current_status is Status.UPLOADING:
        try:
            existing.update(
                actions=[Task.touched_at.set(now)],
                condition=(Task.status == Status.UPLOADING.value) & (Task.user_name == user_name),
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
    return existing


def status_actions(site_id: str, target: Status) -> list[Any]:
    """The update actions that set a task's status and the index keys derived from it.

    ``site_status`` (``site_status_index``) and ``open_status`` (the sparse
    ``open_index``) must change with ``status`` in the same update, or the indexes
    would list the task under a status it no longer has.
    """
    if not site_id:
        raise ValueError("a task's status cannot change without its site: load the whole task")
    return [
        Task.status.set(target.value),
        Task.site_status.set(site_status_key(site_id, target.value)),
        Task.open_status.set(target.value) if is_open(target) else Task.open_status.remove(),
    ]


def _transition_actions(task: Task, target: Status, now: float) -> list[Any]:
    """The update actions that put ``task`` into ``target`` at ``now``."""
    return [
        *status_actions(task.site_id, target),
        Task.touched_at.set(now),
        Task.status_times[target.value].set(now),
    ]


def _transition_condition(target: Status, extra: Condition | None = None) -> Condition:
    """The condition under which a task may move to ``target``."""
    condition = Task.status.is_in(*sorted(s.value for s in predecessors(target)))
    return condition & extra if extra is not None else condition


def transition(
    task: Task,
    target: Status,
    *,
    now: float,
    actions: Sequence[Any] = (),
    condition: Condition | None = None,
) -> tuple[list[Any], Condition]:
    """The update actions and condition of :func:`advance`, for a write in a transaction."""
    return [*_transition_actions(task, target, now), *actions], _transition_condition(
        target, condition
    )


def advance(
    task: Task,
    target: Status,
    *,
    now: float,
    actions: Sequence[Any] = (),
    condition: Condition | None = None,
) -> bool:
    """Move ``task`` to ``target`` in one conditional write.

    Returns
    -------
    bool
        True if the task moved; False if its status (or ``condition``) no longer
        allowed it, e.g. a duplicate or late event. ``task`` is refreshed when it moved.
    """
    try:
        task.update(*transition(task, target, now=now, actions=actions, condition=condition))
        return True
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise


def fail(task: Task, reason: str, *, now: float, condition: Condition | None = None) -> bool:
    """End ``task`` as ``FAILED`` with a reason a person can act on."""
    return advance(
        task, Status.FAILED, now=now, actions=[Task.error.set(reason)], condition=condition
    )
