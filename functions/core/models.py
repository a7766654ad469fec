"""The PynamoDB tables: Task, Site, User, ModeCatalog, ModeSettings, UsageRecord and billing's.

Table names come from :class:`~functions.core.settings.Settings` through
:func:`bind_models`; their keys and indexes match ``terraform/resources.json``
(a test holds the two together).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from contracts.task_status import Status
from functions.core.settings import Settings


class _Index(GlobalSecondaryIndex):
    class Meta:
        projection = AllProjection()
        billing_mode = "PAY_PER_REQUEST"


class TaskUserIndex(_Index):
    """A user's tasks, newest first (query with ``scan_index_forward=False``)."""

    class Meta(_Index.Meta):
        index_name = "user_index"

    user_name = UnicodeAttribute(hash_key=True)
    created_at = NumberAttribute(range_key=True)


class TaskSiteIndex(_Index):
    """A site's tasks, newest first."""

    class Meta(_Index.Meta):
        index_name = "site_index"

    site_id = UnicodeAttribute(hash_key=True)
    created_at = NumberAttribute(range_key=True)


class TaskSiteStatusIndex(_Index):
    """A site's tasks of one status, newest first: the partition is :func:`site_status_key`."""

    class Meta(_Index.Meta):
        index_name = "site_status_index"

    site_status = UnicodeAttribute(hash_key=True)
    created_at = NumberAttribute(range_key=True)


class TaskOpenIndex(_Index):
    """Sparse index of tasks that can still change, by status and last activity."""

    class Meta(_Index.Meta):
        index_name = "open_index"

    open_status = UnicodeAttribute(hash_key=True)
    touched_at = NumberAttribute(range_key=True)


def site_status_key(site_id: str, status: str) -> str:
    """The :class:`TaskSiteStatusIndex` partition of a site's tasks in ``status``."""
    return f"{site_id}#{status}"


class RawFile(MapAttribute):
    name = UnicodeAttribute()
    size = NumberAttribute()


class Task(Model):
    """One reconstruction task, keyed by the UUID the client chose."""

    class Meta:
        table_name = "task"
        billing_mode = "PAY_PER_REQUEST"

    task_id = UnicodeAttribute(hash_key=True)
    site_id = UnicodeAttribute()
    user_name = UnicodeAttribute()
    status = UnicodeAttribute(default=Status.UPLOADING.value)
    site_status = UnicodeAttribute(null=True)
    """``site_id#status`` (:func:`site_status_key`), written with every change of status."""
    open_status = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    touched_at = NumberAttribute()
    status_times = MapAttribute(default=dict)
    recon_mode = UnicodeAttribute(null=True)
    param_value = UnicodeAttribute(null=True)
    task_file_key = UnicodeAttribute(null=True)
    raw_files = MapAttribute(default=dict)
    """File name → size in bytes, as validated at submission."""
    job_id = UnicodeAttribute(null=True)
    job_queue = UnicodeAttribute(null=True)
    claim_id = UnicodeAttribute(null=True)
    vcpus = NumberAttribute(null=True)
    memory_mib = NumberAttribute(null=True)
    spot = BooleanAttribute(null=True)
    timeout_seconds = NumberAttribute(null=True)
    attempts = NumberAttribute(default=0)
    exit_code = NumberAttribute(null=True)
    started_at = NumberAttribute(null=True)
    stopped_at = NumberAttribute(null=True)
    cost_micros = NumberAttribute(default=0)
    error = UnicodeAttribute(null=True)
    """Why the task failed, in words a person can act on."""

    user_index = TaskUserIndex()
    site_index = TaskSiteIndex()
    site_status_index = TaskSiteStatusIndex()
    open_index = TaskOpenIndex()

    @property
    def current_status(self) -> Status:
        return Status(self.status)

    def serialize(self, null_check: bool = True) -> dict[str, dict[str, Any]]:
        """The item as written by a put (``save``, batch or transaction).

        ``site_status`` is derived here from ``site_id`` and ``status``, so a whole
        item can never be written with a stale one; an update that changes the status
        sets it in the same update (``functions.core.task_store``).
        """
        if self.site_id is not None and self.status is not None:
            self.site_status = site_status_key(self.site_id, self.status)
        return super().serialize(null_check=null_check)


class Site(Model):
    """An imaging centre: its users, settings and billing hang off it."""

    class Meta:
        table_name = "site"
        billing_mode = "PAY_PER_REQUEST"

    site_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    suspended = BooleanAttribute(default=False)
    billing_mode = UnicodeAttribute(default="none")
    """``none`` (self-hosted, nothing charged) or ``stripe``."""
    payment_method_valid = BooleanAttribute(default=False)
    """A ``stripe`` site can submit only with a valid card on file."""
    destinations = MapAttribute(default=dict)
    stripe_customer_id = UnicodeAttribute(null=True)
    """The site's one Stripe customer, created when billing first needs it."""
    stripe_subscription_id = UnicodeAttribute(null=True)
    """The customer's subscription to the metered price, made once a card is saved."""
    billing_blocked_reason = UnicodeAttribute(null=True)
    """Why a ``stripe`` site may not submit although it has a card (an unpaid invoice)."""


class UserSiteIndex(_Index):
    class Meta(_Index.Meta):
        index_name = "site_index"

    site_id = UnicodeAttribute(hash_key=True)
    user_name = UnicodeAttribute(range_key=True)


class User(Model):
    """A site user: the IAM user whose keys sign its API calls and uploads."""

    class Meta:
        table_name = "user"
        billing_mode = "PAY_PER_REQUEST"

    user_name = UnicodeAttribute(hash_key=True)
    site_id = UnicodeAttribute()
    enabled = BooleanAttribute(default=True)

    site_index = UserSiteIndex()


class ModeCatalog(Model):
    """A published mode: its id and the ``[ClientConfig]`` of its ``.mode`` file."""

    class Meta:
        table_name = "mode_catalog"
        billing_mode = "PAY_PER_REQUEST"

    mode_id = UnicodeAttribute(hash_key=True)
    client_config = MapAttribute(default=dict)
    disabled = BooleanAttribute(default=False)


class ModeSettings(Model):
    """A site's settings for one mode: the instance size per protocol."""

    class Meta:
        table_name = "mode_settings"
        billing_mode = "PAY_PER_REQUEST"

    site_id = UnicodeAttribute(hash_key=True)
    mode_id = UnicodeAttribute(range_key=True)
    enabled = BooleanAttribute(default=True)
    vcpus = NumberAttribute(default=2)
    memory_mib = NumberAttribute(default=4096)
    spot = BooleanAttribute(default=True)
    timeout_seconds = NumberAttribute(default=3600)


class UsageUserIndex(_Index):
    class Meta(_Index.Meta):
        index_name = "user_index"

    user_name = UnicodeAttribute(hash_key=True)
    finished_at = NumberAttribute(range_key=True)


class UsageSiteIndex(_Index):
    class Meta(_Index.Meta):
        index_name = "site_index"

    site_id = UnicodeAttribute(hash_key=True)
    finished_at = NumberAttribute(range_key=True)


class UsageRecord(Model):
    """The compute one finished job used, written exactly once per job."""

    class Meta:
        table_name = "usage"
        billing_mode = "PAY_PER_REQUEST"

    job_id = UnicodeAttribute(hash_key=True)
    task_id = UnicodeAttribute()
    user_name = UnicodeAttribute()
    site_id = UnicodeAttribute()
    finished_at = NumberAttribute()
    month = UnicodeAttribute()
    status = UnicodeAttribute()
    seconds = NumberAttribute()
    vcpus = NumberAttribute()
    memory_gib = NumberAttribute()
    spot = BooleanAttribute()
    attempts = NumberAttribute()
    cost_micros = NumberAttribute()
    """What the job is charged: the cost of :attr:`charged_seconds` alone."""
    currency = UnicodeAttribute()
    charged_seconds = NumberAttribute(null=True)
    """Seconds of attempts the site pays for (see ``functions.billing.charges``)."""
    uncharged_seconds = NumberAttribute(null=True)
    """Seconds of attempts lost to spot reclaims or to the service's own faults."""

    user_index = UsageUserIndex()
    site_index = UsageSiteIndex()


class UsageRollup(Model):
    """One month of usage of a user (``user#NAME``) or a site (``site#ID``).

    Updated in the same transaction as the job's :class:`UsageRecord`, so it counts
    each job exactly once.
    """

    class Meta:
        table_name = "usage_rollup"
        billing_mode = "PAY_PER_REQUEST"

    owner = UnicodeAttribute(hash_key=True)
    month = UnicodeAttribute(range_key=True)
    jobs = NumberAttribute(default=0)
    cost_micros = NumberAttribute(default=0)
    charged_seconds = NumberAttribute(default=0)
    uncharged_seconds = NumberAttribute(default=0)
    reported_micros = NumberAttribute(default=0)
    """Of a site's month: the usage queued for Stripe, which its meter must sum to."""

    @staticmethod
    def user_owner(user_name: str) -> str:
        return f"user#{user_name}"

    @staticmethod
    def site_owner(site_id: str) -> str:
        return f"site#{site_id}"


class OutboxPendingIndex(_Index):
    """Sparse index of outbox items still to send, by when they may next be tried."""

    class Meta(_Index.Meta):
        index_name = "pending_index"

    pending = UnicodeAttribute(hash_key=True)
    next_attempt_at = NumberAttribute(range_key=True)


class BillingOutboxItem(Model):
    """A usage report for Stripe, kept until Stripe has taken it.

    Keyed by the task (the meter event's identifier); ``pending`` is set while the
    item waits and removed once it is sent or given up, which drops it from
    :class:`OutboxPendingIndex`.
    """

    class Meta:
        table_name = "billing_outbox"
        billing_mode = "PAY_PER_REQUEST"

    event_id = UnicodeAttribute(hash_key=True)
    site_id = UnicodeAttribute()
    value = NumberAttribute()
    """The charged cost in micro-units of the currency (micro-USD)."""
    timestamp = NumberAttribute()
    """When the usage happened (the job's end), epoch seconds."""
    pending = UnicodeAttribute(null=True)
    next_attempt_at = NumberAttribute(null=True)
    attempts = NumberAttribute(default=0)
    state = UnicodeAttribute(default="pending")
    """``pending``, ``sent`` or ``rejected`` (Stripe refused it for good)."""
    last_error = UnicodeAttribute(null=True)
    sent_at = NumberAttribute(null=True)

    pending_index = OutboxPendingIndex()


class StripeEvent(Model):
    """A Stripe webhook event already handled: a replay of it is ignored."""

    class Meta:
        table_name = "stripe_events"
        billing_mode = "PAY_PER_REQUEST"

    event_id = UnicodeAttribute(hash_key=True)
    type = UnicodeAttribute()
    received_at = NumberAttribute()
    expires_at = NumberAttribute()
    """DynamoDB's TTL removes the record after Stripe has stopped retrying."""


MODELS: dict[str, type[Model]] = {
    "task": Task,
    "site": Site,
    "user": User,
    "mode_catalog": ModeCatalog,
    "mode_settings": ModeSettings,
    "usage": UsageRecord,
    "usage_rollup": UsageRollup,
    "billing_outbox": BillingOutboxItem,
    "stripe_events": StripeEvent,
}
"""Each model by its name in ``terraform/resources.json``."""


def bind_models(settings: Settings) -> None:
    """Point every model at its table in ``settings.region``.

    Must run before the first read or write; the handlers and the portal call it
    once at start-up.
    """
    names = {
        "task": settings.task_table,
        "site": settings.site_table,
        "user": settings.user_table,
        "mode_catalog": settings.mode_catalog_table,
        "mode_settings": settings.mode_settings_table,
        "usage": settings.usage_table,
        "usage_rollup": settings.usage_rollup_table,
        "billing_outbox": settings.billing_outbox_table,
        "stripe_events": settings.stripe_events_table,
    }
    for key, model in MODELS.items():
        model.Meta.table_name = names[key]
        model.Meta.region = settings.region
        model._connection = None
        for index in model._indexes.values():
            index._connection = None
