"""The Stripe stand-in, and a local cloud whose billing talks to it."""

from __future__ import annotations

import pytest

from tests.helpers.stripe_server import API_KEY, WEBHOOK_SECRET, StripeStandIn, stripe_api

__all__ = ["stripe_api"]


def stripe_settings(stripe_api: StripeStandIn) -> dict[str, str]:
    return {
        "stripe_api_key": API_KEY,
        "stripe_api_base": stripe_api.url,
        "stripe_webhook_secret": WEBHOOK_SECRET,
    }


@pytest.fixture
def billing_cloud(seeded_cloud, stripe_api):
    """``seeded_cloud`` with Stripe configured to the stand-in."""

    def make(**options):
        overrides = {**stripe_settings(stripe_api), **options.pop("settings_overrides", {})}
        return seeded_cloud(settings_overrides=overrides, **options)

    return make
