"""The billing page of a site administrator, and the way to Checkout to save a card."""

from __future__ import annotations

from dataclasses import dataclass

import stripe
from flask import current_app, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from administration.display import money
from administration.sizes import price_list
from functions.billing.access import billing_refusal
from functions.billing.charges import RULES
from functions.core.clock import month_of
from functions.core.models import Site, UsageRollup, User
from portal_flask import backend
from portal_flask.auth.access import audit, current_site_id, roles_required
from portal_flask.billing import bp
from portal_flask.billing.invoices import site_invoices
from portal_flask.models import SITE_ADMIN


@dataclass(frozen=True)
class MonthUsage:
    owner: str
    jobs: int
    cost: str
    charged_hours: float


def _usage(owner: str, rollup: UsageRollup | None, currency: str) -> MonthUsage:
    if rollup is None:
        return MonthUsage(owner, 0, money(0, currency, places=4), 0.0)
    return MonthUsage(
        owner,
        int(rollup.jobs or 0),
        money(int(rollup.cost_micros or 0), currency, places=4),
        float(rollup.charged_seconds or 0) / 3600,
    )


def month_usage(site_id: str, month: str, currency: str) -> tuple[MonthUsage, list[MonthUsage]]:
    """The site's month and each of its users' months, from the usage rollups."""
    users = [u.user_name for u in User.site_index.query(site_id)]
    keys = [(UsageRollup.site_owner(site_id), month)]
    keys += [(UsageRollup.user_owner(name), month) for name in users]
    found = {r.owner: r for r in UsageRollup.batch_get(keys)}
    site = _usage("Whole site", found.get(UsageRollup.site_owner(site_id)), currency)
    per_user = [_usage(n, found.get(UsageRollup.user_owner(n)), currency) for n in users]
    return site, per_user


@bp.route("/billing/")
@roles_required(SITE_ADMIN)
def index() -> str:
    config = current_app.config["PORTAL"]
    site_id = current_site_id()
    site = Site.get(site_id, consistent_read=True)
    rates = backend.settings().rates
    month = month_of(config.clock())
    total, per_user = month_usage(site_id, month, rates.currency)
    return render_template(
        "billing/index.html",
        site=site,
        refusal=billing_refusal(site),
        can_add_card=site.billing_mode == "stripe" and config.stripe is not None,
        month=month,
        total=total,
        per_user=per_user,
        invoices=site_invoices(site_id),
        prices=price_list(rates),
        rules=RULES,
        money=money,
        cents=lambda amount, currency: money(amount * 10_000, currency),
    )


@bp.route("/billing/card", methods=["POST"])
@roles_required(SITE_ADMIN)
def add_card() -> Response:
    """Send the administrator to Stripe Checkout (setup mode) to save the site's card."""
    config = current_app.config["PORTAL"]
    site = Site.get(current_site_id(), consistent_read=True)
    if site.billing_mode != "stripe" or config.stripe is None:
        flash("This site is not billed by card; nothing to add.", "info")
        return redirect(url_for("billing.index"))
    gateway = config.stripe.gateway()
    back = url_for("billing.index", _external=True)
    try:
        checkout_url = gateway.setup_session(
            site, success_url=f"{back}?card=saved", cancel_url=back
        )
    except stripe.StripeError:
        current_app.logger.exception("Stripe Checkout could not be opened")
        flash("Stripe could not be reached; try again in a few minutes.", "error")
        return redirect(url_for("billing.index"))
    audit("billing.card", site.site_id, {"checkout": "setup"})
    return redirect(checkout_url, code=303)


@bp.route("/billing/stripe", methods=["POST"])
@roles_required(SITE_ADMIN)
def customer_portal() -> Response:
    """Send the administrator to Stripe's Customer Portal: cards, invoices, billing details."""
    config = current_app.config["PORTAL"]
    site = Site.get(current_site_id(), consistent_read=True)
    if site.billing_mode != "stripe" or config.stripe is None or not site.stripe_customer_id:
        flash("This site has no Stripe account yet; add a card first.", "info")
        return redirect(url_for("billing.index"))
    try:
        url = config.stripe.gateway().portal_session(
            site.stripe_customer_id, return_url=url_for("billing.index", _external=True)
        )
    except stripe.StripeError:
        current_app.logger.exception("Stripe's Customer Portal could not be opened")
        flash("Stripe could not be reached; try again in a few minutes.", "error")
        return redirect(url_for("billing.index"))
    audit("billing.portal", site.site_id, {})
    return redirect(url, code=303)
