"""Utilization per user and month, read through the usage indexes."""

from __future__ import annotations

import pytest

from administration.utilization import (
    month_bounds,
    monthly_usage,
    recent_months,
)
from functions.core.clock import month_of
from functions.core.models import UsageRecord

MARCH = month_bounds("2026-03")[0]
APRIL = month_bounds("2026-04")[0]


def record(job: str, task: str, user: str, site: str, at: float, seconds: float, cost: int):
    UsageRecord(
        job,
        task_id=task,
        user_name=user,
        site_id=site,
        finished_at=at,
        month=month_of(at),
        status="SUCCEEDED",
        seconds=seconds,
        vcpus=4,
        memory_gib=16,
        spot=True,
        attempts=1,
        cost_micros=cost,
        currency="USD",
    ).save()


@pytest.fixture
def usage(cloud, monkeypatch):
    record("j1", "t1", "alice", "site-a", MARCH + 10, 1800, 100_000)
    record("j2", "t1", "alice", "site-a", MARCH + 20, 1800, 50_000)  # a retried job, same task
    record("j3", "t2", "alice", "site-a", APRIL + 5, 3600, 200_000)
    record("j4", "t3", "bob", "site-a", MARCH + 30, 7200, 300_000)
    record("j5", "t4", "carol", "site-b", MARCH + 40, 3600, 400_000)
    record("j6", "t5", "alice", "site-a", month_bounds("2026-02")[0], 60, 1)

    def no_scan(*args, **kwargs):
        raise AssertionError("usage must be read through an index, never a scan")

    monkeypatch.setattr(UsageRecord, "scan", no_scan)


def test_a_sites_use_per_user_and_month(usage):
    rows = monthly_usage(["2026-03", "2026-04"], site_id="site-a")
    assert [(r.month, r.user_name, r.tasks, r.jobs, r.hours, r.cost_micros) for r in rows] == [
        ("2026-03", "alice", 1, 2, 1.0, 150_000),
        ("2026-03", "bob", 1, 1, 2.0, 300_000),
        ("2026-04", "alice", 1, 1, 1.0, 200_000),
    ]
    assert rows[0].vcpu_hours == 4.0
    assert rows[0].currency == "USD"


def test_a_users_own_use_and_nothing_of_another_site(usage):
    rows = monthly_usage(["2026-03", "2026-04"], user_name="alice", site_id="site-a")
    assert [(r.month, r.cost_micros) for r in rows] == [("2026-03", 150_000), ("2026-04", 200_000)]
    assert monthly_usage(["2026-03"], user_name="carol", site_id="site-a") == []
    assert [r.user_name for r in monthly_usage(["2026-03"], site_id="site-b")] == ["carol"]


def test_months_are_whole_utc_months():
    assert month_bounds("2025-12") == (1764547200.0, 1767225600.0)
    assert recent_months(APRIL + 5, 3) == ["2026-02", "2026-03", "2026-04"]
    assert recent_months(month_bounds("2026-01")[0], 2) == ["2025-12", "2026-01"]
    with pytest.raises(ValueError, match="write it as YYYY-MM"):
        month_bounds("March")
