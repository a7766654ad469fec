"""Whether billing lets a site submit: only ``stripe`` sites can be held back."""

from __future__ import annotations

from functions.core.models import Site

NO_CARD = (
    "your site has no valid payment method; the site administrator can add a card in the portal"
)
PAYMENT_FAILED = (
    "your site's last invoice could not be paid; the site administrator can update the card"
    " on the portal's Billing page, and tasks can be submitted again once the invoice is paid"
)

ACTION_REQUIRED = (
    "your site's bank asks to confirm the payment of its last invoice; the site administrator"
    " can confirm it from the invoice on the portal's Billing page, and tasks can be submitted"
    " again once the invoice is paid"
)


def billing_refusal(site: Site) -> str | None:
    """Why billing keeps ``site`` from submitting, in words a user can act on; None if not."""
    if site.billing_mode != "stripe":
        return None
    if site.billing_blocked_reason:
        return site.billing_blocked_reason
    if not site.payment_method_valid:
        return NO_CARD
    return None
