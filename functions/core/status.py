"""Which status transitions a task's order allows.

The names and their order are the contract the agent and the portal share
(:mod:`contracts.task_status`). ``FAILED``, ``CANCELED`` and ``EXPIRED`` end a task
from any status before ``SUCCEEDED``. Every transition is a conditional write on
:func:`predecessors`, so a duplicate or late event can never move a task backwards.
"""

from __future__ import annotations

from contracts.task_status import ENDS, FINAL, ORDER, SETTLED, Status


def is_open(status: Status) -> bool:
    """Whether a task in ``status`` can still change."""
    return status not in FINAL


def predecessors(target: Status) -> frozenset[Status]:
    """The statuses from which a task may move to ``target``."""
    if target in ENDS:
        return frozenset(ORDER) - SETTLED
    rank = ORDER.index(target)
    return frozenset(ORDER[:rank])


def can_move(current: Status, target: Status) -> bool:
    """Whether the order allows ``current`` → ``target``."""
    return current in predecessors(target)
