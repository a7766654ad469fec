"""Who pays what: each attempt's verdict and the seconds charged."""

import pytest

from functions.billing.charges import Verdict, attempt_verdict, charge_job

T0 = 1_764_000_000_000  # epoch ms


def attempt(start_s: float, stop_s: float, exit_code: int | None, reason: str = "") -> dict:
    return {
        "startedAt": T0 + int(start_s * 1000),
        "stoppedAt": T0 + int(stop_s * 1000),
        "container": {"exitCode": exit_code},
        "statusReason": reason,
    }


@pytest.mark.parametrize(
    "exit_code,reason,verdict",
    [
        (0, "Essential container in task exited", Verdict.SUCCEEDED),
        (65, "Essential container in task exited", Verdict.BAD_INPUT),
        (70, "Essential container in task exited", Verdict.SERVICE_FAULT),
        (75, "Essential container in task exited", Verdict.SERVICE_FAULT),
        (137, "Essential container in task exited", Verdict.SERVICE_FAULT),
        (None, "Task failed to start", Verdict.SERVICE_FAULT),
        (None, "Host EC2 (instance i-0abc123) terminated.", Verdict.SPOT_RECLAIM),
        (143, "Host EC2 (instance i-0abc123) terminated.", Verdict.SPOT_RECLAIM),
        (137, "Job attempt duration exceeded timeout", Verdict.TIMED_OUT),
    ],
)
def test_each_attempt_gets_its_verdict(exit_code, reason, verdict):
    assert attempt_verdict(attempt(0, 10, exit_code, reason)) is verdict


def test_a_success_is_charged_in_full():
    charge = charge_job([attempt(0, 42.5, 0)])
    assert (charge.charged_seconds, charge.uncharged_seconds) == (42.5, 0)


def test_attempts_lost_to_spot_reclaims_are_not_charged():
    charge = charge_job(
        [
            attempt(0, 30, None, "Host EC2 (instance i-0abc123) terminated."),
            attempt(40, 100, 0),
        ]
    )
    assert (charge.charged_seconds, charge.uncharged_seconds) == (60, 30)
    assert [a.verdict for a in charge.attempts] == [Verdict.SPOT_RECLAIM, Verdict.SUCCEEDED]


def test_bad_input_is_charged_and_our_faults_are_not():
    assert charge_job([attempt(0, 12, 65)]).charged_seconds == 12
    ours = charge_job([attempt(0, 5, 75), attempt(6, 11, 75), attempt(12, 20, 70)])
    assert (ours.charged_seconds, ours.uncharged_seconds) == (0, 18)


def test_a_timed_out_attempt_is_not_charged():
    charge = charge_job([attempt(0, 600, 137, "Job attempt duration exceeded timeout")])
    assert (charge.charged_seconds, charge.uncharged_seconds) == (0, 600)


def test_a_cancelled_job_is_charged_up_to_the_cancellation():
    cancelled_at = T0 / 1000 + 50
    charge = charge_job(
        [
            attempt(0, 20, None, "Host EC2 (instance i-0abc123) terminated."),
            attempt(30, 58, 143, "Canceled by alice"),
        ],
        cancelled_at=cancelled_at,
    )
    assert [a.verdict for a in charge.attempts] == [Verdict.SPOT_RECLAIM, Verdict.CANCELLED]
    # Charged: 50 - 30 s; not: the reclaimed 20 s and the 8 s the job took to stop.
    assert (charge.charged_seconds, charge.uncharged_seconds) == (20, 28)


def test_an_attempt_that_never_started_costs_nothing():
    charge = charge_job([{"container": {}, "statusReason": "Task failed to start"}])
    assert (charge.charged_seconds, charge.uncharged_seconds) == (0, 0)
