"""The operator's page and the suspend/resume actions."""

from __future__ import annotations

from datetime import UTC, datetime

import stripe
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from administration import sites
from administration.billing import MODES, set_billing_mode
from administration.deployment import description
from administration.errors import AdministrationError, UnknownSite
from administration.failures import failed_tasks
from administration.queues import dead_letter_depths, dead_letter_queues
from functions.billing.stripe_gateway import BillingContact, BillingNotConfigured, StripeGateway
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
        billing_modes=MODES,
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


def _contact(form: dict[str, str]) -> BillingContact | None:
    fields = {name: form.get(name, "").strip() for name in ("email", "line1", "city")}
    fields.update(
        postal_code=form.get("postal_code", "").strip(),
        country=form.get("country", "").strip().upper(),
        line2=form.get("line2", "").strip(),
    )
    if not any(v for k, v in fields.items() if k != "line2"):
        return None
    return BillingContact(**fields)


@bp.route("/sites/billing", methods=["POST"])
@roles_required(OPERATOR)
def set_billing() -> Response:
    """Bill a site through Stripe (with its billing contact) or not at all."""
    config = current_app.config["PORTAL"]
    site_id = request.form.get("site", "")

    def gateway() -> StripeGateway:
        if config.stripe is None:
            raise BillingNotConfigured(
                "Stripe is not set up on this portal: run `scripts/admin stripe setup`"
            )
        return config.stripe.gateway()

    mode = request.form.get("mode", "")
    try:
        change = set_billing_mode(
            site_id,
            mode,
            gateway=gateway,
            contact=_contact(request.form),
            return_url=url_for("billing.index", _external=True),
        )
    except UnknownSite:
        abort(404)
    except (AdministrationError, BillingNotConfigured) as exc:
        flash(f"Billing of {site_id} not changed: {exc}", "error")
        return redirect(url_for("admin.index"))
    except stripe.StripeError:
        current_app.logger.exception("Stripe refused or could not be reached")
        flash("Stripe could not be reached; the billing mode is unchanged. Try again.", "error")
        return redirect(url_for("admin.index"))
    audit("site.billing", site_id, {"mode": mode}, site_id=site_id)
    message = f"{change.site.name} ({site_id}) is billed through {mode}."
    if change.setup_url:
        message += (
            " Its tasks are refused until its administrator adds a card on the Billing page"
            f" (or at {change.setup_url})."
        )
    flash(message, "success")
    return redirect(url_for("admin.index"))
