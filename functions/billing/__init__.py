"""Metering and billing through Stripe.

- :mod:`~functions.billing.charges`: who pays what (pure).
- :mod:`~functions.billing.metering`: a job's final status, usage record, monthly rollups
  and usage report, in one transaction, exactly once.
- :mod:`~functions.work.billing_outbox`: usage reports sent to Stripe, retried until taken.
- :mod:`~functions.billing.stripe_gateway`: the Stripe calls, with idempotency keys.
- :mod:`~functions.billing.webhooks`: Stripe's events (cards, invoices, subscriptions),
  applied as Stripe holds them now.
- :mod:`~functions.billing.access`: whether billing lets a site submit.

Stripe set-up
-------------
Usage is reported as Billing Meter events in **micro-units** of the rates' currency
(millionths), so a job of a few seconds is billed exactly and only the month's total is
rounded. :mod:`~functions.billing.stripe_setup` (``scripts/admin stripe setup``) makes
the meter, the metered Price and the webhook endpoint, and keeps their ids with the
restricted key in the Secrets Manager secret of :mod:`~functions.billing.stripe_secret`;
:mod:`~functions.work.billing_reconcile` checks each site's month against the meter.

What Stripe is told: a customer per site (the site's id and name, and the billing e-mail
and postal address the operator gave: an organisation's), and
per job the site's customer, the task's UUID (the event identifier, so Stripe drops a
repeat) and the charged amount. No patient value and no user name: a task's UUID is
random, and who ran it stays in the usage records.
"""
