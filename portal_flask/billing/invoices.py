"""The portal's copy of a site's Stripe invoices, kept up to date by the webhook."""

from __future__ import annotations

from functions.billing.webhooks import InvoiceRecord
from portal_flask.extensions import db
from portal_flask.models import Invoice

_RANK = {"draft": 0, "open": 1, "paid": 2, "uncollectible": 2, "void": 2}
"""Stripe's invoice statuses in order: an event that arrives late never moves one back."""


def store_invoice(record: InvoiceRecord) -> Invoice:
    """Insert or update the invoice ``record`` describes, and commit."""
    invoice = db.session.scalar(
        db.select(Invoice).where(Invoice.stripe_invoice_id == record.stripe_invoice_id)
    )
    if invoice is None:
        invoice = Invoice(stripe_invoice_id=record.stripe_invoice_id, site_id=record.site_id)
        db.session.add(invoice)
    elif _RANK.get(record.status, 1) < _RANK.get(invoice.status, 1):
        return invoice
    invoice.number = record.number
    invoice.status = record.status
    invoice.currency = record.currency[:3]
    invoice.amount_due = record.amount_due
    invoice.amount_paid = record.amount_paid
    invoice.period_start = record.period_start
    invoice.period_end = record.period_end
    invoice.hosted_invoice_url = record.hosted_invoice_url
    if record.created_at is not None:
        invoice.created_at = record.created_at
    invoice.paid_at = record.paid_at
    db.session.commit()
    return invoice


def site_invoices(site_id: str, limit: int = 36) -> list[Invoice]:
    """The site's invoices, newest first."""
    return list(
        db.session.scalars(
            db.select(Invoice)
            .where(Invoice.site_id == site_id)
            .order_by(Invoice.created_at.desc(), Invoice.id.desc())
            .limit(limit)
        )
    )
