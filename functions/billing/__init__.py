"""Metering and billing through Stripe.

- :mod:`~functions.billing.charges`: who pays what (pure).
- :mod:`~functions.billing.metering`: a job's usage record, its monthly rollups and its
  usage report, in one transaction, exactly once.
- :mod:`~functions.billing.outbox`: usage reports sent to Stripe, retried until taken.
- :mod:`~functions.billing.stripe_gateway`: the Stripe calls, with idempotency keys.
- :mod:`~functions.billing.webhooks`: Stripe's events (card saved, payment failed, invoices).
- :mod:`~functions.billing.access`: whether billing lets a site submit.

Stripe set-up
-------------
Usage is reported as Billing Meter events in **micro-USD** (millionths of a dollar),
so a job of a few seconds is billed exactly and only the month's total is rounded.
Stripe needs, once per account:

- a Billing Meter with ``event_name`` = ``YC_STRIPE_METER_EVENT`` (default
  ``yarracloud_compute``), aggregation ``sum``, customer mapping from the payload key
  ``stripe_customer_id`` and the value from the payload key ``value``;
- a recurring monthly Price on that meter (``usage_type=metered``, ``currency=usd``)
  with ``unit_amount_decimal="0.0001"`` (cents per unit: one unit is a micro-dollar);
- its id in ``YC_STRIPE_PRICE_ID``: each site's customer is subscribed to it once its
  card is saved;
- a webhook endpoint at the portal's ``/stripe/webhook`` for ``checkout.session.completed``,
  ``invoice.created``, ``invoice.finalized``, ``invoice.paid`` and
  ``invoice.payment_failed``, whose signing secret is ``YC_STRIPE_WEBHOOK_SECRET``.

What Stripe is told: a customer per site (the site's id and name, an organisation), and
per job the site's customer, the task's UUID (the event identifier, so Stripe drops a
repeat) and the charged amount. No patient value and no user name: a task's UUID is
random, and who ran it stays in the usage records.
"""
