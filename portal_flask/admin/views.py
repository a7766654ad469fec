"""The operator's page and the suspend/resume actions."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, current_app, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from functions.administration import sites
from functions.administration.deployment import description
from functions.administration.errors import UnknownSite
from functions.administration.failures import failed_tasks
from functions.administration.queues import dead_letter_depths, dead_letter_queues
from portal_flask import backend
from portal_flask.admin import bp
from portal_flask.auth.access import audit, roles_required
from portal_flask.models import OPERATOR

FAILED_DAYS = 7
FAILED_LIMIT = 50


def when(epoch: float | None) -> str:
    if not epoch:
        return ""
    return datetime.fromtimestamp(float(epoch), UTC).strftime("%Y-%m-%d %H:%M UTC")


@bp.route("/")
@roles_required(OPERATOR)
def index() -> str:
    all_sites = sites.list_sites()
    now = current_app.config["PORTAL"].clock()
    failures = failed_tasks(
        [s.site_id for s in all_sites], since=now - FAILED_DAYS * 86400, limit=FAILED_LIMIT
    )
    queues = dead_letter_queues(description(), backend.settings())
    return render_template(
        "admin/index.html",
        sites=all_sites,
        failures=failures,
        depths=dead_letter_depths(backend.client("sqs"), queues),
        failed_days=FAILED_DAYS,
        when=when,
    )


def _set_suspended(site_id: str, suspended: bool) -> Response:
    try:
        site = sites.set_suspended(site_id, suspended)
    except UnknownSite:
        abort(404)
    audit("site.suspend" if suspended else "site.resume", site_id, site_id=site_id)
    if suspended:
        flash(
            f"Suspended {site.name} ({site_id}): its agents' requests and new tasks are refused"
            " until you resume it.",
            "success",
        )
    else:
        flash(f"Resumed {site.name} ({site_id}): it can submit tasks again.", "success")
    return redirect(url_for("admin.index"))


@bp.route("/sites/<site_id>/suspend", methods=["POST"])
@roles_required(OPERATOR)
def suspend(site_id: str) -> Response:
    return _set_suspended(site_id, True)


@bp.route("/sites/<site_id>/resume", methods=["POST"])
@roles_required(OPERATOR)
def resume(site_id: str) -> Response:
    return _set_suspended(site_id, False)
