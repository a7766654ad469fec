"""Utilization: per user and month, as a server-drawn chart, a table and a CSV export."""

from __future__ import annotations

import csv
import io
import re

import pytest

from administration.utilization import month_bounds, recent_months
from functions.core.clock import month_of
from functions.core.models import UsageRecord


def record(job: str, user: str, site: str, at: float, seconds: float, cost: int) -> None:
    UsageRecord(
        job,
        task_id=f"task-{job}",
        user_name=user,
        site_id=site,
        finished_at=at,
        month=month_of(at),
        status="SUCCEEDED",
        seconds=seconds,
        vcpus=2,
        memory_gib=8,
        spot=True,
        attempts=1,
        cost_micros=cost,
        currency="USD",
    ).save()


@pytest.fixture
def months(portal) -> list[str]:
    """The last two months before now; alice and bob used site-a, carol site-b."""
    earlier, now = recent_months(portal.clock(), 2)
    record("a1", "alice", "site-a", month_bounds(earlier)[0] + 60, 3600, 1_250_000)
    record("a2", "alice", "site-a", month_bounds(now)[0] + 60, 1800, 500_000)
    record("b1", "bob", "site-a", month_bounds(now)[0] + 120, 7200, 2_000_000)
    record("c1", "carol", "site-b", month_bounds(now)[0] + 60, 3600, 9_000_000)
    return [earlier, now]


def signed_in(portal, make_account, sign_in, role: str):
    client = portal.client()
    assert sign_in(client, make_account(role, "site-a")).status_code == 302
    return client


def test_a_site_admin_sees_every_user_of_the_site_in_chart_and_table(
    portal, months, make_account, sign_in
):
    client = signed_in(portal, make_account, sign_in, "site_admin")
    page = client.get("/usage/?months=3").get_data(as_text=True)
    bars = re.findall(r'<rect class="bar"[^>]*data-month="([^"]+)" data-user="([^"]+)"', page)
    assert sorted(bars) == sorted([(months[0], "alice"), (months[1], "alice"), (months[1], "bob")])
    assert "carol" not in page
    assert 'id="total-cost">$3.75<' in page
    assert 'id="total-tasks">3<' in page
    assert "$1.25" in page and "$2.00" in page

    only_bob = client.get("/usage/?months=3&user=bob").get_data(as_text=True)
    assert re.findall(r'data-user="([^"]+)"', only_bob) == ["bob"]


def test_a_site_user_sees_only_their_own_use(portal, months, make_account, sign_in):
    client = signed_in(portal, make_account, sign_in, "site_user")  # alice
    page = client.get("/usage/?months=3&user=bob").get_data(as_text=True)
    assert set(re.findall(r'data-user="([^"]+)"', page)) == {"alice"}
    assert 'id="total-cost">$1.75<' in page


def test_the_chart_can_show_compute_hours_and_an_empty_period_says_so(
    portal, months, make_account, sign_in
):
    client = signed_in(portal, make_account, sign_in, "site_admin")
    page = client.get("/usage/?metric=hours&months=3").get_data(as_text=True)
    values = re.findall(r'data-user="bob" data-value="([^"]+)"', page)
    assert values == ["2"]
    portal.clock.advance(400 * 86400)  # long after any session ends: sign in again
    client = signed_in(portal, make_account, sign_in, "site_admin")
    assert "No reconstructions finished" in client.get("/usage/?months=3").get_data(as_text=True)


def test_the_csv_export_has_one_row_per_user_and_month(portal, months, make_account, sign_in):
    client = signed_in(portal, make_account, sign_in, "site_admin")
    response = client.get("/usage/usage.csv?months=3")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["month"], r["user"], r["tasks"], r["cost"]) for r in rows] == [
        (months[0], "alice", "1", "1.250000"),
        (months[1], "alice", "1", "0.500000"),
        (months[1], "bob", "1", "2.000000"),
    ]
    assert rows[2]["compute_hours"] == "2.0000" and rows[2]["vcpu_hours"] == "4.0000"


def test_operators_have_no_site_usage_page(portal, make_account, sign_in):
    client = portal.client()
    sign_in(client, make_account("operator"))
    assert client.get("/usage/").status_code == 403
