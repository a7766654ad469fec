"""Stripe's credentials and catalogue ids, kept in one AWS Secrets Manager secret.

The secret (``{prefix}/stripe``, made by Terraform without a value) holds a JSON
object written by ``scripts/admin stripe setup``:

- ``api_key``: a restricted key with only the permissions billing uses (see
  :data:`RESTRICTED_KEY_PERMISSIONS`);
- ``webhook_secret``: the signing secret of the portal's webhook endpoint;
- ``event_destination_secret``: the signing secret of the portal's event destination
  for meter error reports (:mod:`functions.billing.meter_errors`);
- ``meter_event``, ``meter_id``, ``product_id``, ``price_id``, ``currency``,
  ``webhook_endpoint_id``, ``event_destination_id``, ``api_version``: what the set-up made.

The functions and the portal read it once, at cold start, and hold it in their
:class:`~functions.core.settings.Settings`: nothing secret is in an environment
variable, in Terraform's state or in its outputs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from functions.core.errors import ConfigurationError
from functions.core.settings import Settings

RESTRICTED_KEY_PERMISSIONS: Mapping[str, str] = {
    "Customers": "Write",
    "Checkout Sessions": "Write",
    "SetupIntents": "Read",
    "Subscriptions": "Write",
    "Invoices": "Read",
    "Prices": "Read",
    "Billing Meters": "Read",
    "Billing Meter Events": "Write",
    "Events": "Read",
    "Customer portal": "Write",
}
"""The restricted key's permissions (Dashboard → Developers → API keys); nothing else."""

FIELDS: Mapping[str, str] = {
    "api_key": "stripe_api_key",
    "webhook_secret": "stripe_webhook_secret",
    "event_destination_secret": "stripe_event_destination_secret",
    "price_id": "stripe_price_id",
    "meter_id": "stripe_meter_id",
    "meter_event": "stripe_meter_event",
}
"""The secret's keys and the settings they fill."""


def read_secret(secretsmanager: Any, secret_id: str) -> dict[str, str]:
    """The secret's JSON object; empty when it has no value yet.

    Raises
    ------
    ConfigurationError
        When the secret does not exist or is not a JSON object.
    """
    try:
        value = secretsmanager.get_secret_value(SecretId=secret_id)["SecretString"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "ResourceNotFoundException" and "current" in str(exc).lower():
            return {}
        if code == "ResourceNotFoundException":
            raise ConfigurationError(
                f"the Stripe secret {secret_id} does not exist: apply Terraform, then run"
                " `scripts/admin stripe setup`"
            ) from None
        raise
    try:
        values = json.loads(value)
    except ValueError:
        values = None
    if not isinstance(values, dict):
        raise ConfigurationError(
            f"the Stripe secret {secret_id} is not a JSON object: run `scripts/admin stripe setup`"
        )
    return values


def write_secret(secretsmanager: Any, secret_id: str, values: Mapping[str, str]) -> None:
    """Store ``values`` as the secret's new version (made when it does not exist)."""
    body = json.dumps(dict(values), sort_keys=True)
    try:
        secretsmanager.put_secret_value(SecretId=secret_id, SecretString=body)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        secretsmanager.create_secret(Name=secret_id, SecretString=body)


def with_stripe_secret(settings: Settings, secretsmanager: Any) -> Settings:
    """``settings`` with what the Stripe secret holds (unchanged when no secret is named)."""
    if not settings.stripe_secret_id:
        return settings
    values = read_secret(secretsmanager, settings.stripe_secret_id)
    found = {name: values[key] for key, name in FIELDS.items() if values.get(key)}
    return dataclasses.replace(settings, **found)
