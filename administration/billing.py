"""A site's billing mode, set by the operator: ``none`` or ``stripe``.

Switching a site to ``stripe`` gives its Stripe customer the billing e-mail and
postal address Stripe sends invoices and dunning mail to (and computes tax from),
and opens the card set-up: a Checkout link the operator can hand on, and the
site administrator's "Add a card" on the portal's Billing page. Until a card is
saved the site's tasks are refused with a reason saying so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pynamodb.exceptions import UpdateError

from administration.errors import AdministrationError, UnknownSite
from administration.sites import get_site
from functions.billing.stripe_gateway import BillingContact, StripeGateway
from functions.core.models import Site
from functions.core.task_store import condition_failed

MODES = ("none", "stripe")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class BillingChange:
    site: Site
    setup_url: str | None = None
    """Where the site's card is entered (``stripe`` sites without a valid card)."""


def check_contact(contact: BillingContact | None) -> BillingContact:
    """Refuse a missing or incomplete billing contact, saying what to add."""
    if contact is None:
        raise AdministrationError(
            "a site billed through Stripe needs a billing e-mail and postal address:"
            " pass --email, --line1, --city, --postal-code and --country"
        )
    if not _EMAIL.match(contact.email):
        raise AdministrationError(f"{contact.email!r} is not an e-mail address")
    missing = [
        name
        for name, value in (
            ("street (line1)", contact.line1),
            ("city", contact.city),
            ("postal code", contact.postal_code),
        )
        if not value.strip()
    ]
    if missing:
        raise AdministrationError(f"the billing address has no {', '.join(missing)}")
    if not re.fullmatch(r"[A-Z]{2}", contact.country):
        raise AdministrationError(
            f"{contact.country!r} is not a country code: use its two letters (ISO 3166-1), e.g. DE"
        )
    return contact


def set_billing_mode(
    site_id: str,
    mode: str,
    *,
    gateway: Callable[[], StripeGateway],
    contact: BillingContact | None = None,
    return_url: str,
) -> BillingChange:
    """Bill ``site_id`` through ``mode``; for ``stripe``, with ``contact`` on its customer.

    Parameters
    ----------
    gateway
        Makes the Stripe gateway (raising ``BillingNotConfigured`` when Stripe is not
        set up); called only for ``stripe``.
    return_url
        Where Checkout sends the card holder back (the portal's Billing page).
    """
    if mode not in MODES:
        raise AdministrationError(f"billing mode {mode!r} is not one of {', '.join(MODES)}")
    site = get_site(site_id)
    setup_url = None
    if mode == "stripe":
        stripe_gateway = gateway()
        stripe_gateway.ensure_customer(site, contact=check_contact(contact))
        site.refresh(consistent_read=True)
        if not site.payment_method_valid:
            setup_url = stripe_gateway.setup_session(
                site, success_url=f"{return_url}?card=saved", cancel_url=return_url
            )
    try:
        site.update(actions=[Site.billing_mode.set(mode)], condition=Site.site_id.exists())
    except UpdateError as exc:
        if condition_failed(exc):
            raise UnknownSite(site_id) from None
        raise
    return BillingChange(site, setup_url)
