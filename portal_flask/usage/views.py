"""The utilization page and its CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from flask import current_app, render_template, request
from werkzeug.wrappers import Response

from administration.display import money
from administration.utilization import MonthlyUsage, monthly_usage, recent_months
from functions.core.models import User
from portal_flask.auth.access import current_site_id, current_user_name, roles_required
from portal_flask.models import SITE_ADMIN, SITE_USER
from portal_flask.usage import bp
from portal_flask.usage.chart import legend, stacked_bars

PERIODS = (3, 6, 12)
METRICS: dict[str, tuple[str, Callable[[MonthlyUsage], float]]] = {
    "cost": ("Cost", lambda row: row.cost_micros / 1_000_000),
    "hours": ("Compute hours", lambda row: row.hours),
    "tasks": ("Tasks", lambda row: float(row.tasks)),
}


def _selection() -> tuple[list[str], str | None, str]:
    """The months, the user (None: the whole site) and the metric the request asks for."""
    try:
        count = int(request.args.get("months", "6"))
    except ValueError:
        count = 6
    count = count if count in PERIODS else 6
    months = recent_months(current_app.config["PORTAL"].clock(), count)
    user = current_user_name() or (request.args.get("user") or None)
    metric = request.args.get("metric", "cost")
    return months, user, metric if metric in METRICS else "cost"


def _rows(months: list[str], user: str | None) -> list[MonthlyUsage]:
    return monthly_usage(months, site_id=current_site_id(), user_name=user)


@bp.route("/")
@roles_required(SITE_ADMIN, SITE_USER)
def index() -> str:
    months, user, metric = _selection()
    rows = _rows(months, user)
    currency = next((r.currency for r in rows if r.currency), "USD")
    label, value_of = METRICS[metric]
    values: dict[str, dict[str, float]] = {}
    for row in rows:
        values.setdefault(row.user_name, {})[row.month] = value_of(row)

    def fmt(value: float) -> str:
        if metric == "cost":
            return money(round(value * 1_000_000), currency)
        return f"{value:,.1f}" if metric == "hours" else f"{value:,.0f}"

    users = []
    if current_user_name() is None:
        users = [u.user_name for u in User.site_index.query(current_site_id())]
    totals = {
        "tasks": sum(r.tasks for r in rows),
        "hours": sum(r.hours for r in rows),
        "cost": money(sum(r.cost_micros for r in rows), currency),
    }
    return render_template(
        "usage/index.html",
        rows=rows,
        months=months,
        user=user,
        users=users,
        metric=metric,
        metrics={key: name for key, (name, _) in METRICS.items()},
        periods=PERIODS,
        chart=stacked_bars(months, values, label=label, fmt=fmt) if rows else None,
        legend=legend(list(values)),
        totals=totals,
        money=money,
        query={"months": len(months), "user": user or "", "metric": metric},
    )


def spreadsheet_safe(text: str) -> str:
    """``text`` that a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@bp.route("/usage.csv")
@roles_required(SITE_ADMIN, SITE_USER)
def export() -> Response:
    months, user, _ = _selection()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["month", "user", "tasks", "jobs", "compute_hours", "vcpu_hours", "cost", "currency"]
    )
    for row in _rows(months, user):
        writer.writerow(
            [
                row.month,
                spreadsheet_safe(row.user_name),
                row.tasks,
                row.jobs,
                f"{row.hours:.4f}",
                f"{row.vcpu_hours:.4f}",
                f"{row.cost_micros / 1_000_000:.6f}",
                row.currency,
            ]
        )
    name = f"usage-{current_site_id()}-{months[0]}-{months[-1]}.csv"
    response = current_app.response_class(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f"attachment; filename={name}"
    return response
