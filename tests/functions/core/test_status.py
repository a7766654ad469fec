import itertools

import pytest

from contracts.task_status import ENDS, ORDER, Status
from functions.core.status import can_move, is_open, predecessors


def test_order_follows_batch_with_upload_first_and_delivery_last():
    assert [s.value for s in ORDER] == [
        "UPLOADING",
        "SUBMITTED",
        "PENDING",
        "RUNNABLE",
        "STARTING",
        "RUNNING",
        "SUCCEEDED",
        "DELIVERED",
    ]


@pytest.mark.parametrize("earlier,later", list(itertools.pairwise(ORDER)))
def test_forward_moves_are_allowed_and_backward_refused(earlier, later):
    assert can_move(earlier, later)
    assert not can_move(later, earlier)


def test_a_status_never_moves_to_itself():
    for status in Status:
        assert not can_move(status, status)


def test_late_events_can_skip_ahead():
    assert can_move(Status.SUBMITTED, Status.RUNNING)
    assert can_move(Status.UPLOADING, Status.RUNNABLE)


@pytest.mark.parametrize("end", sorted(ENDS))
def test_ends_are_reachable_until_success_and_final(end):
    assert can_move(Status.UPLOADING, end)
    assert can_move(Status.RUNNING, end)
    assert not can_move(Status.SUCCEEDED, end)
    assert not can_move(Status.DELIVERED, end)
    assert not any(can_move(end, other) for other in Status)


def test_open_statuses():
    assert is_open(Status.RUNNING) and is_open(Status.SUCCEEDED)
    assert not is_open(Status.DELIVERED) and not is_open(Status.FAILED)


def test_succeeded_only_from_batch_statuses_before_it():
    assert predecessors(Status.SUCCEEDED) == frozenset(ORDER[:6])
